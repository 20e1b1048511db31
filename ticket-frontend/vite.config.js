import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The ticket API (ticket-frontend/api) serves dist/ and /api on one port in production; in `vite dev` the
// API runs separately (default http://127.0.0.1:8000), so /api is proxied to it. TICKET_API_URL overrides.
const apiTarget = process.env.TICKET_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: apiTarget, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.js"],
    include: ["src/**/*.test.{js,jsx}"],
    restoreMocks: true,
    unstubGlobals: true,
    testTimeout: 20000,
  },
});
