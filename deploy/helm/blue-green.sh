#!/usr/bin/env bash
# Blue-green for the gateway (docs/deploy.md, "Kubernetes: the Helm chart").
#
# The stack's release (helm install orderflow deploy/helm/orderflow ...) runs the blue gateway
# and the stable Service "<stack>-gateway", whose selector names the live track. The green
# gateway is a second release of the same chart, "<stack>-green", with gatewayOnly=true: its
# pods carry the stack's labels and track=green, and call the stack's services. Switching is one
# label of the stable Service's selector: every new connection goes to the other track at once,
# and the track left keeps running for the way back.
#
#   blue-green.sh deploy  STACK [helm args]  install or upgrade the green gateway, wait until it is ready
#   blue-green.sh switch  STACK blue|green   send the stable Service's traffic to that track
#   blue-green.sh status  STACK              the live track and each track's ready pods
#   blue-green.sh promote STACK [helm args]  upgrade the stack (blue rolls while green is live), back to blue, remove green
#   blue-green.sh remove  STACK              uninstall the green release (not while it is live)
#
# helm args are what the stack was installed with (-f deploy/helm/values-production.yaml) and
# the change (--set image.tag=0.2.0). NAMESPACE (default: the context's), HELM, KUBECTL and
# TIMEOUT (default 300s) are read from the environment; DRY_RUN=1 prints the commands instead.
set -euo pipefail

HELM=${HELM:-helm}
KUBECTL=${KUBECTL:-kubectl}
TIMEOUT=${TIMEOUT:-300s}
CHART=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/orderflow
NS_ARGS=()
if [[ -n "${NAMESPACE:-}" ]]; then NS_ARGS=(--namespace "$NAMESPACE"); fi

usage() {
  sed -n 's/^#   \(blue-green.sh .*\)/\1/p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# Runs a command, or prints it under DRY_RUN=1.
run() {
  if [[ "${DRY_RUN:-}" == 1 ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# The track the stable Service sends traffic to.
live_track() {
  if [[ "${DRY_RUN:-}" == 1 ]]; then echo "blue"; return; fi
  "$KUBECTL" "${NS_ARGS[@]}" get service "$1-gateway" -o 'jsonpath={.spec.selector.orderflow\.dev/track}'
}

# Waits until a track's Deployment has rolled out and all its pods are ready.
wait_ready() {
  local stack=$1 track=$2 deployment
  if [[ "$track" == blue ]]; then deployment="$stack-gateway"; else deployment="$stack-green-gateway"; fi
  run "$KUBECTL" "${NS_ARGS[@]}" rollout status "deployment/$deployment" --timeout "$TIMEOUT"
}

switch() {
  local stack=$1 track=$2
  [[ "$track" == blue || "$track" == green ]] || usage
  wait_ready "$stack" "$track"
  # One label: the Service's endpoints become the ready pods of that track.
  run "$KUBECTL" "${NS_ARGS[@]}" patch service "$stack-gateway" --type merge \
    -p "{\"spec\":{\"selector\":{\"orderflow.dev/track\":\"$track\"}}}"
  echo "blue-green: $stack-gateway now sends traffic to $track." >&2
  echo "blue-green: upgrade the stack's release with --set gateway.liveTrack=$track (promote does), or helm puts it back." >&2
}

status() {
  local stack=$1
  echo "live: $(live_track "$stack")"
  run "$KUBECTL" "${NS_ARGS[@]}" get pods -l "app.kubernetes.io/part-of=$stack,app.kubernetes.io/component=gateway" \
    -L orderflow.dev/track -o wide
}

[[ $# -ge 2 ]] || usage
command=$1
stack=$2
shift 2
case "$command" in
  deploy)
    run "$HELM" upgrade --install "$stack-green" "$CHART" "${NS_ARGS[@]}" "$@" \
      --set gatewayOnly=true --set "stack=$stack" --set gateway.track=green --wait --timeout "$TIMEOUT"
    wait_ready "$stack" green
    echo "blue-green: green is ready; try it at service/$stack-green-gateway-green, then: $0 switch $stack green" >&2
    ;;
  switch)
    [[ $# -eq 1 ]] || usage
    switch "$stack" "$1"
    ;;
  status)
    status "$stack"
    ;;
  promote)
    # Green is live: blue (the stack's own gateway) takes the new version while idle.
    if [[ "$(live_track "$stack")" != green && "${DRY_RUN:-}" != 1 ]]; then
      echo "blue-green: green is not live; switch to it first" >&2
      exit 1
    fi
    run "$HELM" upgrade "$stack" "$CHART" "${NS_ARGS[@]}" "$@" --set gateway.liveTrack=green --wait --timeout "$TIMEOUT"
    switch "$stack" blue
    run "$HELM" upgrade "$stack" "$CHART" "${NS_ARGS[@]}" "$@" --set gateway.liveTrack=blue --wait --timeout "$TIMEOUT"
    run "$HELM" uninstall "$stack-green" "${NS_ARGS[@]}" --wait
    ;;
  remove)
    if [[ "$(live_track "$stack")" == green && "${DRY_RUN:-}" != 1 ]]; then
      echo "blue-green: green is live; switch to blue first" >&2
      exit 1
    fi
    run "$HELM" uninstall "$stack-green" "${NS_ARGS[@]}" --wait
    ;;
  *)
    usage
    ;;
esac
