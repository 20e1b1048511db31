// Where an order stands, read from its status and the events on its timeline. Statuses are Alpaca's plus the
// bus's own before the broker sees the order (requested, approved, rejected by risk, submission failed).

const FINAL = new Set([
  "filled",
  "canceled",
  "cancelled",
  "expired",
  "rejected",
  "risk_rejected",
  "failed",
  "submission_failed",
  "done_for_day",
  "replaced",
]);

export const isFinal = (status) => FINAL.has(String(status ?? "").toLowerCase());

const SUBMITTED = new Set(["submitted", "new", "accepted", "pending_new", "partially_filled", "filled",
  "pending_cancel", "canceled", "cancelled", "expired", "done_for_day", "replaced", "pending_replace"]);

/**
 * The progress steps of an order: `[{key, label, state}]`, state one of "done", "failed", "pending".
 * requested → approved | rejected → submitted | broker refused → partially filled → filled | canceled | expired
 */
export function progressSteps(order, eventTypes = []) {
  const status = String(order?.status ?? "requested").toLowerCase();
  const seen = new Set([...(order?.timeline ?? []).map((e) => e.event_type), ...eventTypes]);
  const riskRejected = seen.has("RiskRejected") || status === "risk_rejected" ||
    (status === "rejected" && !seen.has("OrderSubmitted") && !seen.has("RiskApproved"));
  const submitFailed = seen.has("SubmissionFailed") || status === "submission_failed" || status === "failed";
  const submitted = seen.has("OrderSubmitted") || SUBMITTED.has(status);
  const approved = seen.has("RiskApproved") || submitted || submitFailed;
  const filledQty = Number(order?.filled_qty ?? 0);
  const partially = status === "partially_filled" || filledQty > 0 || seen.has("FillReported");

  const steps = [{ key: "requested", label: "Requested", state: "done" }];
  if (riskRejected) {
    steps.push({ key: "risk", label: "Rejected by risk", state: "failed" });
    return steps;
  }
  steps.push({ key: "risk", label: "Approved", state: approved ? "done" : "pending" });
  if (submitFailed) {
    steps.push({ key: "submitted", label: "Broker refused", state: "failed" });
    return steps;
  }
  steps.push({ key: "submitted", label: "Submitted", state: submitted ? "done" : "pending" });
  steps.push({ key: "partial", label: "Partially filled", state: partially ? "done" : "pending" });
  const endings = {
    filled: ["Filled", "done"],
    canceled: ["Canceled", "failed"],
    cancelled: ["Canceled", "failed"],
    expired: ["Expired", "failed"],
    rejected: ["Rejected by broker", "failed"],
    done_for_day: ["Done for day", "failed"],
  };
  const [label, state] = endings[status] ?? ["Filled", "pending"];
  steps.push({ key: "final", label, state });
  return steps;
}

/** One line for an event on an order's live timeline, until the server's own summary replaces it. */
export function describeEvent(type, data = {}) {
  switch (type) {
    case "OrderRequested":
      return "Order requested";
    case "RiskApproved":
      return "Approved by risk";
    case "RiskRejected": {
      const reasons = (data.reasons ?? data.reject_reasons ?? []).map((r) => r.message ?? r.code).filter(Boolean);
      return `Rejected by risk${reasons.length ? `: ${reasons.join("; ")}` : ""}`;
    }
    case "OrderSubmitted":
      return "Submitted to the broker";
    case "SubmissionFailed":
      return `Broker refused the order${data.message ? `: ${data.message}` : ""}`;
    case "OrderStatusChanged":
      return `Status: ${String(data.status ?? "changed").replace(/_/g, " ")}`;
    case "FillReported":
      return `Filled ${data.qty ?? "?"} @ ${data.price ?? "?"}${data.cum_qty ? ` (total ${data.cum_qty})` : ""}`;
    case "CancelRequested":
      return "Cancel requested";
    case "CancelResult":
      return `Cancel: ${String(data.outcome ?? data.result ?? data.status ?? "answered").replace(/_/g, " ")}`;
    default:
      return type;
  }
}
