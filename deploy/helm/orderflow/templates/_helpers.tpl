{{/*
The stack: the name the services' objects share ("<stack>-orders"). A second gateway release
(blue-green) names the first release here to join its stack.
*/}}
{{- define "orderflow.stack" -}}
{{- default .Release.Name .Values.stack | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* The services this release renders: all ten, or only the gateway (gatewayOnly). */}}
{{- define "orderflow.serviceNames" -}}
{{- if .Values.gatewayOnly -}}
gateway
{{- else -}}
{{- keys .Values.services | sortAlpha | join " " -}}
{{- end -}}
{{- end -}}

{{/* One service's settings over the defaults: (dict "root" $ "name" "orders") -> YAML. */}}
{{- define "orderflow.service" -}}
{{- $own := index .root.Values.services .name -}}
{{- merge (deepCopy $own) (deepCopy .root.Values.defaults) | toYaml -}}
{{- end -}}

{{/* The Deployment of a service in this release: <release>-<service>. */}}
{{- define "orderflow.workload" -}}
{{- printf "%s-%s" (.root.Release.Name | trunc 40 | trimSuffix "-") .name -}}
{{- end -}}

{{/* The stack's Service of a service: <stack>-<service>. */}}
{{- define "orderflow.serviceHost" -}}
{{- printf "%s-%s" (include "orderflow.stack" .root) .name -}}
{{- end -}}

{{/* Labels every object of the chart carries. */}}
{{- define "orderflow.commonLabels" -}}
app.kubernetes.io/name: orderflow
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ include "orderflow.stack" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* A service's pods' selector (immutable in a Deployment): (dict "root" $ "name" "orders"). */}}
{{- define "orderflow.selectorLabels" -}}
app.kubernetes.io/name: orderflow
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* A service's labels: the common ones, its component, and the gateway's track. */}}
{{- define "orderflow.labels" -}}
{{ include "orderflow.commonLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- if eq .name "gateway" }}
orderflow.dev/track: {{ .root.Values.gateway.track }}
{{- end }}
{{- end -}}

{{/*
What the NetworkPolicies select a service's pods by: its component in the stack, whatever the
release (the green gateway's pods are the stack's gateway too).
*/}}
{{- define "orderflow.peerLabels" -}}
app.kubernetes.io/name: orderflow
app.kubernetes.io/part-of: {{ include "orderflow.stack" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/*
ORDERFLOW_REPLICAS: the most pods the service may run at once, never under 2. A rolling update
runs the new pod beside the old one, so even one replica is two processes for a while, and a
service with more than one keeps no cache another's commit could make stale (orders' state
cache, inventory's sole writer).
*/}}
{{- define "orderflow.replicasBound" -}}
{{- $s := .svc -}}
{{- $n := int $s.replicas -}}
{{- if and $s.hpa $s.hpa.enabled }}{{ $n = max $n (int $s.hpa.maxReplicas) }}{{ end -}}
{{- if and $s.keda $s.keda.enabled }}{{ $n = max $n (int $s.keda.maxReplicaCount) }}{{ end -}}
{{- max 2 (add $n (int $s.maxSurge)) -}}
{{- end -}}

{{/* Whether a service runs as an Argo Rollouts canary (the gateway, with gateway.canary.enabled). */}}
{{- define "orderflow.canary" -}}
{{- if and (eq .name "gateway") .root.Values.gateway.canary.enabled }}
{{- if .root.Values.gatewayOnly }}{{ fail "gateway.canary and gatewayOnly are two ways of one rollout: choose one" }}{{ end -}}
true
{{- end -}}
{{- end -}}

{{/* A service's workload: apiVersion and kind, a Deployment or (canary) a Rollout. */}}
{{- define "orderflow.workloadType" -}}
{{- if include "orderflow.canary" . -}}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- else -}}
apiVersion: apps/v1
kind: Deployment
{{- end -}}
{{- end -}}

{{/* Whether an autoscaler (HPA or KEDA) sets the replicas: then the Deployment leaves them alone. */}}
{{- define "orderflow.autoscaled" -}}
{{- $s := .svc -}}
{{- if or (and $s.hpa $s.hpa.enabled) (and $s.keda $s.keda.enabled (include "orderflow.consumedTopics" .)) }}true{{ end -}}
{{- end -}}

{{/*
The topics a service's consumer group reads, per architecture, as its main.ts subscribes
(src/services/<name>/main.ts; group = the service's name): space-separated, empty for none.
*/}}
{{- define "orderflow.consumedTopics" -}}
{{- $byArch := dict
  "events" (dict
    "orders" "inventory.events payments.events shipping.events"
    "inventory" "inventory.commands"
    "payments" "payments.commands"
    "shipping" "shipping.commands"
    "cart" "inventory.events"
    "notifications" "users.events orders.events shipping.events payments.events cart.events")
  "choreography" (dict
    "orders" "inventory.events payments.events shipping.events"
    "inventory" "orders.events payments.events shipping.events"
    "payments" "inventory.events shipping.events orders.events"
    "shipping" "payments.events orders.events"
    "cart" "inventory.events"
    "notifications" "users.events orders.events shipping.events payments.events cart.events")
  "rest" (dict
    "orders" "inventory.events"
    "cart" "inventory.events"
    "notifications" "users.events orders.events cart.events") -}}
{{- $arch := required "config.arch must be events, choreography or rest" (index $byArch .root.Values.config.arch) -}}
{{- index $arch .name | default "" -}}
{{- end -}}

{{/* The Secret the services read DATABASE_URL, USERS_SIGNING_KEY and SMTP_URL from. */}}
{{- define "orderflow.secretName" -}}
{{- default (printf "%s-secrets" .Release.Name) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Whether the Kafka clients authenticate (SASL_*), and whether they speak TLS. */}}
{{- define "orderflow.kafkaSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}
{{- define "orderflow.kafkaTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end -}}
{{- end -}}

{{/* Where the brokers' CA is mounted in the pods. */}}
{{- define "orderflow.kafkaCaDir" -}}
/etc/orderflow/kafka-ca
{{- end -}}
