import { useEffect, useState } from "react";
import { ApiError, fieldErrorsFrom422, previewOrder } from "../api.js";
import { useDebouncedValue } from "./useDebouncedValue.js";

export const PREVIEW_DEBOUNCE_MS = 250;

/**
 * The API's verdict on the order as typed (/api/orders/preview, the authority), asked 250 ms after the
 * person stops typing. `{data, fieldErrors, error, pending}` always describe the current request: an answer
 * to an older one is dropped. `refreshKey` asks again without a change of input (a new quote, for market orders).
 */
export function usePreview(request, enabled, refreshKey = "") {
  const key = enabled ? `${JSON.stringify(request)}|${refreshKey}` : "";
  const debouncedKey = useDebouncedValue(key, PREVIEW_DEBOUNCE_MS);
  const [result, setResult] = useState({ key: "", data: null, fieldErrors: {}, error: null });

  useEffect(() => {
    if (!debouncedKey) return undefined;
    let current = true;
    const body = JSON.parse(debouncedKey.slice(0, debouncedKey.lastIndexOf("|")));
    previewOrder(body)
      .then((data) => {
        if (current) setResult({ key: debouncedKey, data, fieldErrors: groupErrors(data?.errors), error: null });
      })
      .catch((err) => {
        if (!current) return;
        const fieldErrors = err instanceof ApiError && err.status === 422 ? fieldErrorsFrom422(err.body) : {};
        setResult({ key: debouncedKey, data: null, fieldErrors, error: err.message });
      });
    return () => {
      current = false;
    };
  }, [debouncedKey]);

  if (!key) return { data: null, fieldErrors: {}, error: null, pending: false };
  // same input, new refreshKey: keep showing the last answer while the next one is on its way
  const sameOrder = result.key && result.key.slice(0, result.key.lastIndexOf("|")) === key.slice(0, key.lastIndexOf("|"));
  if (result.key === key || sameOrder) return { ...result, pending: false };
  return { data: null, fieldErrors: {}, error: null, pending: true };
}

/** The preview's `errors: [{field, code, message}]` as `{field: message}`; errors of no field go under "_". */
function groupErrors(errors) {
  const out = {};
  for (const e of errors ?? []) {
    const field = e.field ?? "_";
    out[field] = out[field] ? `${out[field]} ${e.message}` : e.message;
  }
  return out;
}
