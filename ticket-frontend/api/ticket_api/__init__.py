"""ticket API: the only way a browser reaches the bus.

ROLE       Serves the built trade ticket (``ticket-frontend/dist``) and its HTTP API (DESIGN §7) on one port
           (default 8000). Will publish ``OrderRequested`` / ``CancelRequested`` and keep a read model.
STATE      Foundation only: ``GET /api/mode`` reports paper/live and the broker kind; the order endpoints arrive
           with issue #6. Until the frontend is built, ``/`` explains that.
SECURITY   Holds no broker credentials; never shows a secret.
"""
