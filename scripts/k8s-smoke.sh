#!/usr/bin/env bash
# End-to-end smoke scenario through the HTTP gateway (proto3 JSON names, camelCase):
#   register a customer → log in → list products → place an order → poll it until CONFIRMED or SHIPPED.
# Usage: GATEWAY_URL=http://127.0.0.1:8080 scripts/k8s-smoke.sh
#   (kubectl -n agora port-forward svc/gateway 8080:8080 first). Needs curl and jq.
set -euo pipefail

base=${GATEWAY_URL:-http://127.0.0.1:8080}
timeout=${SMOKE_TIMEOUT_SECONDS:-180}
extra_headers=()
if [ -n "${SMOKE_HEADER:-}" ]; then extra_headers=(-H "$SMOKE_HEADER"); fi  # e.g. "x-agora-canary: v2"

# call METHOD PATH [BODY] [curl args…]: prints the response body; fails loudly on a non-2xx status.
call() {
  local method=$1 path=$2 body=${3:-}
  shift 3 || shift $#
  local out status
  out=$(mktemp)
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method" "${extra_headers[@]}" "$@")
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data "$body"); fi
  status=$(curl "${args[@]}" "$base$path") || { echo "curl failed: $method $path" >&2; rm -f "$out"; return 1; }
  if [ "${status:0:1}" != 2 ]; then
    echo "$method $path → HTTP $status: $(cat "$out")" >&2
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}

echo "gateway: $base"
for i in $(seq 1 60); do
  curl -sf "$base/readyz" >/dev/null && break
  [ "$i" = 60 ] && { echo "gateway not ready at $base/readyz" >&2; exit 1; }
  sleep 2
done

email="smoke-$(date +%s)-$RANDOM@example.com"
password="smoke-test-password-1"
call POST /v1/customers "$(jq -nc --arg e "$email" --arg p "$password" '{email:$e,password:$p,displayName:"Smoke Test"}')" >/dev/null
echo "registered $email"

token=$(call POST /v1/sessions "$(jq -nc --arg e "$email" --arg p "$password" '{email:$e,password:$p}')" | jq -er .accessToken)
echo "logged in (token ${#token} chars)"
auth=(-H "Authorization: Bearer $token")

product=$(call GET /v1/products "" | jq -er '.products[0].productId')
echo "ordering product $product"

# A card that expires in five years, whatever year this runs in.
order=$(jq -nc --arg p "$product" --argjson year "$(($(date +%Y) + 5))" '{
  lines: [{productId: $p, quantity: 1}],
  shippingAddress: {recipientName: "Smoke Test", addressLines: ["1 Test Street"], city: "Berlin", postalCode: "10115", countryCode: "DE"},
  card: {number: "4242424242424242", expMonth: 12, expYear: $year, cvc: "123", holderName: "Smoke Test"}
}')
order_id=$(call POST /v1/orders "$order" "${auth[@]}" -H "Idempotency-Key: smoke-$(date +%s)-$RANDOM" | jq -er .order.orderId)
echo "placed order $order_id"

deadline=$((SECONDS + timeout))
status=""
while [ $SECONDS -lt $deadline ]; do
  status=$(call GET "/v1/orders/$order_id" "" "${auth[@]}" | jq -er .order.status)
  case "$status" in
    ORDER_STATUS_CONFIRMED | ORDER_STATUS_SHIPPED)
      echo "order $order_id is $status"
      echo "smoke: 1 passed, 0 failed"
      exit 0
      ;;
    ORDER_STATUS_REJECTED | ORDER_STATUS_CANCELLED | ORDER_STATUS_NEEDS_ATTENTION)
      echo "order $order_id ended $status" >&2
      exit 1
      ;;
  esac
  sleep 2
done
echo "order $order_id still $status after ${timeout}s" >&2
exit 1
