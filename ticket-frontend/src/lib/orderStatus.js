// Where an order stands. The ticket API computes the status (the contracts' OrderProgress: requested, approved,
// rejected, submitted, partially_filled, filled, canceled, expired, failed); this file only draws it. The one
// thing the status does not say, whether a rejection came from risk or from the broker, is read from the
// order's timeline.
import { EventType, FINAL_PROGRESS, OrderProgress } from "./vocabulary.generated.js";

const FINAL = new Set(FINAL_PROGRESS);

export const isFinal = (status) => FINAL.has(status);

// statuses at which the broker has the order (or had it); "rejected" here is the broker's (risk's is handled first)
const AT_BROKER = new Set([OrderProgress.SUBMITTED, OrderProgress.PARTIALLY_FILLED, OrderProgress.FILLED,
  OrderProgress.CANCELED, OrderProgress.EXPIRED, OrderProgress.REJECTED]);

const ENDINGS = {
  [OrderProgress.FILLED]: ["Filled", "done"],
  [OrderProgress.CANCELED]: ["Canceled", "failed"],
  [OrderProgress.EXPIRED]: ["Expired", "failed"],
  [OrderProgress.REJECTED]: ["Rejected by broker", "failed"],
};

/**
 * The progress steps of an order as the API reports it (`{status, filled_qty, timeline}`, or null before it
 * has): `[{key, label, state}]`, state one of "done", "failed", "pending".
 * requested → approved | rejected → submitted | broker refused → (partially filled) → filled | canceled | expired
 */
export function progressSteps(order) {
  const status = order?.status ?? OrderProgress.REQUESTED;
  const byRisk = (order?.timeline ?? []).some((e) => e.event_type === EventType.RiskRejected);
  const steps = [{ key: "requested", label: "Requested", state: "done" }];
  if (status === OrderProgress.REJECTED && byRisk) {
    steps.push({ key: "risk", label: "Rejected by risk", state: "failed" });
    return steps;
  }
  const approved = status !== OrderProgress.REQUESTED;
  steps.push({ key: "risk", label: "Approved", state: approved ? "done" : "pending" });
  if (status === OrderProgress.FAILED) {
    steps.push({ key: "submitted", label: "Broker refused", state: "failed" });
    return steps;
  }
  steps.push({ key: "submitted", label: "Submitted", state: AT_BROKER.has(status) ? "done" : "pending" });
  // "Partially filled" only when it happened: an order filled in one fill never was (issue 17); once the order is
  // final the step is left out unless it was partially filled on the way (two fills, or fills and then a cancel)
  const fills = (order?.timeline ?? []).filter((e) => e.event_type === EventType.FillReported).length;
  const partially = status === OrderProgress.PARTIALLY_FILLED || fills > 1 ||
    (Number(order?.filled_qty ?? 0) > 0 && status !== OrderProgress.FILLED);
  if (partially || !isFinal(status)) {
    steps.push({ key: "partial", label: "Partially filled", state: partially ? "done" : "pending" });
  }
  const [label, state] = ENDINGS[status] ?? ["Filled", "pending"];
  steps.push({ key: "final", label, state });
  return steps;
}

/** One line for an event on an order's live timeline, until the server's own summary replaces it. */
export function describeEvent(type, data = {}) {
  switch (type) {
    case EventType.OrderRequested:
      return "Order requested";
    case EventType.RiskApproved:
      return "Approved by risk";
    case EventType.RiskRejected: {
      const reasons = (data.reasons ?? []).map((r) => r.message);
      return `Rejected by risk${reasons.length ? `: ${reasons.join("; ")}` : ""}`;
    }
    case EventType.OrderSubmitted:
      return "Submitted to the broker";
    case EventType.SubmissionFailed:
      return `Broker refused the order${data.message ? `: ${data.message}` : ""}`;
    case EventType.OrderStatusChanged:
      return `Status: ${String(data.status ?? "changed").replace(/_/g, " ")}`;
    case EventType.FillReported:
      return `Filled ${data.qty ?? "?"} @ ${data.price ?? "?"}${data.cum_qty ? ` (total ${data.cum_qty})` : ""}`;
    case EventType.CancelRequested:
      return "Cancel requested";
    case EventType.CancelResult:
      return `Cancel: ${String(data.outcome ?? "answered").replace(/_/g, " ")}`;
    default:
      return type;
  }
}
