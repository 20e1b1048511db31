// The review dialog's confirm button, by what it says ("Buy 10 AAPL", "Sell 3 AAPL").
import { screen, waitFor } from "@testing-library/react";
import { expect } from "vitest";

export const CONFIRM_NAME = /^(Buy|Sell) /;

/** The confirm button once the server's preview has accepted the order (it is disabled until then). */
export async function enabledConfirm(container = screen) {
  const button = container.getByRole("button", { name: CONFIRM_NAME });
  await waitFor(() => expect(button).toBeEnabled());
  return button;
}
