# One image per service, built from the one workspace lock:
#   docker build --build-arg SERVICE=risk-service -t tradebus/risk-service .
# Each image holds only its service's package and dependencies (uv sync --package), nothing else.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev --no-editable --package "${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
RUN useradd --system --uid 10001 tradebus && mkdir -p /data/audit && chown tradebus /data/audit
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" SERVICE="${SERVICE}"
USER tradebus
CMD ["sh", "-c", "exec \"$SERVICE\""]
