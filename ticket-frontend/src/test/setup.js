import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

// the ticket debounces by 250 ms; give findBy/waitFor room on a loaded CI machine
configure({ asyncUtilTimeout: 3000 });

afterEach(() => cleanup());
