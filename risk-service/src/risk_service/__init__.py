"""risk-service: the only way an order becomes submittable.

ROLE       Pre-trade risk gate. Consumes ``OrderRequested`` (``orders.requested.>``, durable consumer
           ``risk-service`` on the ORDERS stream); will publish ``RiskApproved`` (Ed25519-signed) or
           ``RiskRejected`` with reason codes.
STATE      Foundation only: requests are taken into the service's inbox (PostgreSQL schema ``risk_service``),
           de-duplicated by event_id, and logged with ``acted_on=false``. No decision is made yet: the checks
           and signing arrive with issue #4. Nothing is approved by this version, so nothing can be submitted.
SECURITY   Will hold the approval signing key (a file path in settings); it holds no broker credentials.
"""
