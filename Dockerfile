# One image per service, built from the one workspace lock:
#   docker build --build-arg SERVICE=risk-service -t tradebus/risk-service .
#   docker build --build-arg SERVICE=ticket-api --target ticket-api -t tradebus/ticket-api .   (with the built ticket)
# Each image holds only its service's package and dependencies (uv sync --package), nothing else; the ticket-api
# image also the production build of the trade ticket. Every process runs as an unprivileged user.

# --- the trade ticket's production build (React + Vite) -------------------------------------------------------------
FROM node:20-slim AS ticket
WORKDIR /ticket
COPY ticket-frontend/package.json ticket-frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ticket-frontend/ ./
RUN npm run build

# --- one service's virtual environment ------------------------------------------------------------------------------
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev --no-editable --package "${SERVICE}"

# --- what runs -------------------------------------------------------------------------------------------------------
FROM python:3.11-slim AS base
ARG SERVICE
RUN useradd --system --uid 10001 tradebus && mkdir -p /data/audit && chown tradebus /data/audit
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" SERVICE="${SERVICE}"
USER tradebus
CMD ["sh", "-c", "exec \"$SERVICE\""]

FROM base AS ticket-api
COPY --from=ticket /ticket/dist /app/ticket-dist
ENV FRONTEND_DIST=/app/ticket-dist

FROM base AS service
