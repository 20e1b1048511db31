"""order-gateway: the only process that holds broker credentials and talks to Alpaca.

ROLE       Consumes ``RiskApproved`` (``risk.approved.>``, durable ``order-gateway`` on RISK) and
           ``CancelRequested`` (``orders.cancel.>``, durable ``order-gateway-cancel`` on ORDERS); will submit
           verified approvals through alpaca-py and publish OrderSubmitted / SubmissionFailed /
           OrderStatusChanged / FillReported / CancelResult.
STATE      Foundation only: approvals and cancel requests are taken into the inbox (schema ``order_gateway``)
           and logged with ``acted_on=false``. It submits NOTHING yet (issue #5 adds verification,
           exactly-once submission and tracking).
SECURITY   Paper by default: ``mode`` is ``paper`` unless ``--live`` is given, and this version refuses live.
"""
