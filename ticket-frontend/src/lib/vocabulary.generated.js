// generated from tradebus_contracts — do not edit; regenerate with `uv run python -m ticket_api.js_vocabulary`
// (ticket-frontend/api/ticket_api/js_vocabulary.py). Names and values only: no risk rule, no reason code.

export const OrderSide = Object.freeze({ BUY: "buy", SELL: "sell" });
export const OrderType = Object.freeze({ MARKET: "market", LIMIT: "limit", STOP: "stop", STOP_LIMIT: "stop_limit" });
export const TimeInForce = Object.freeze({ DAY: "day", GTC: "gtc", OPG: "opg", CLS: "cls", IOC: "ioc", FOK: "fok" });
export const OrderProgress = Object.freeze({
  REQUESTED: "requested",
  APPROVED: "approved",
  REJECTED: "rejected",
  SUBMITTED: "submitted",
  PARTIALLY_FILLED: "partially_filled",
  FILLED: "filled",
  CANCELED: "canceled",
  EXPIRED: "expired",
  FAILED: "failed",
});
export const CancelOutcome = Object.freeze({
  CANCELED: "canceled",
  TOO_LATE_FILLED: "too_late_filled",
  TOO_LATE_PARTIALLY_FILLED: "too_late_partially_filled",
  NOT_CANCELABLE: "not_cancelable",
  FAILED: "failed",
  CANCELED_BEFORE_SUBMIT: "canceled_before_submit",
});
export const TradingState = Object.freeze({ ACTIVE: "active", REDUCING: "reducing", HALTED: "halted" });

/** The order progress values after which nothing changes (tradebus_contracts.orders.FINAL_PROGRESS). */
export const FINAL_PROGRESS = Object.freeze(["rejected", "filled", "canceled", "expired", "failed"]);
/** How far along its way an order is; every final progress ranks last (tradebus_contracts.orders). */
export const PROGRESS_RANK = Object.freeze({
  requested: 0,
  approved: 1,
  submitted: 2,
  partially_filled: 3,
  rejected: 4,
  filled: 4,
  canceled: 4,
  expired: 4,
  failed: 4,
});

/** Every event type on the bus, by name (tradebus_contracts.codec.EVENT_TYPES). */
export const EventType = Object.freeze({
  OrderRequested: "OrderRequested",
  RiskApproved: "RiskApproved",
  RiskRejected: "RiskRejected",
  OrderSubmitted: "OrderSubmitted",
  SubmissionFailed: "SubmissionFailed",
  OrderStatusChanged: "OrderStatusChanged",
  CancelRequested: "CancelRequested",
  CancelResult: "CancelResult",
  FillReported: "FillReported",
  PositionSnapshot: "PositionSnapshot",
  PositionDrift: "PositionDrift",
  PositionReconciled: "PositionReconciled",
  CorporateActionApplied: "CorporateActionApplied",
  TradingStateChanged: "TradingStateChanged",
  DeadLetter: "DeadLetter",
  BrokerTradeUpdate: "BrokerTradeUpdate",
  BrokerActivity: "BrokerActivity",
  AuditCheckpoint: "AuditCheckpoint",
});
/** The events about one order: the ones the ticket API folds into an order's state. */
export const ORDER_EVENT_TYPES = Object.freeze(["OrderRequested", "RiskApproved", "RiskRejected", "OrderSubmitted", "SubmissionFailed", "OrderStatusChanged", "FillReported", "CancelRequested", "CancelResult"]);
/** The events GET /api/events streams (every channel the ticket consumes, tradebus_contracts.topology). */
export const LIVE_EVENT_TYPES = Object.freeze(["OrderRequested", "RiskApproved", "RiskRejected", "OrderSubmitted", "SubmissionFailed", "OrderStatusChanged", "CancelRequested", "CancelResult", "FillReported", "PositionSnapshot", "PositionDrift", "PositionReconciled", "CorporateActionApplied", "TradingStateChanged"]);

/** A symbol as the contracts accept it (tradebus_contracts.orders.Symbol). */
export const SYMBOL_PATTERN = new RegExp("^[A-Z][A-Z0-9]*(?:\\.[A-Z0-9]+)*$");
export const SYMBOL_MAX_LENGTH = 16;
