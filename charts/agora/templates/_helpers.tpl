{{/*
Helpers shared by every template. Objects are named after the services themselves (catalog, order …)
because the services find each other by those DNS names: one release per namespace.
*/}}

{{/* Labels every object carries. */}}
{{- define "agora.commonLabels" -}}
app.kubernetes.io/part-of: agora
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
The effective configuration of one service: serviceDefaults, with every key the service sets replacing
the default key as a whole. Call: include "agora.serviceConfig" (dict "root" $ "name" "order") | fromYaml
*/}}
{{- define "agora.serviceConfig" -}}
{{- $cfg := index .root.Values.services .name -}}
{{- $s := deepCopy .root.Values.serviceDefaults -}}
{{- range $k, $v := $cfg }}{{- $_ := set $s $k $v }}{{- end -}}
{{- $_ := set $s "name" .name -}}
{{- if not (hasKey $s "enabled") }}{{- $_ := set $s "enabled" true }}{{- end -}}
{{- $canary := deepCopy .root.Values.canaryDefaults -}}
{{- range $k, $v := ($cfg.canary | default dict) }}{{- $_ := set $canary $k $v }}{{- end -}}
{{- if not (hasKey $canary "enabled") }}{{- $_ := set $canary "enabled" false }}{{- end -}}
{{- $_ := set $s "canary" $canary -}}
{{- $flagger := $cfg.flagger | default dict -}}
{{- $_ := set $s "flaggerEnabled" (and .root.Values.istio.enabled (default false $flagger.enabled)) -}}
{{- $_ := set $s "isHttp" (hasKey $cfg "httpPort") -}}
{{- $_ := set $s "port" (int (ternary $cfg.httpPort $cfg.grpcPort (hasKey $cfg "httpPort"))) -}}
{{- toYaml $s -}}
{{- end -}}

{{/* Upper-case environment prefix of a service: order-history → ORDER_HISTORY. */}}
{{- define "agora.envName" -}}
{{- . | replace "-" "_" | upper -}}
{{- end -}}

{{/* Database and user name of a service: order-history → order_history. */}}
{{- define "agora.dbName" -}}
{{- . | replace "-" "_" -}}
{{- end -}}

{{/* Full image reference. Call: include "agora.image" (dict "root" $ "image" .image) */}}
{{- define "agora.image" -}}
{{- $reg := .root.Values.image.registry -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if $reg -}}{{ printf "%s/%s:%s" (trimSuffix "/" $reg) .image.repository $tag }}{{- else -}}{{ printf "%s:%s" .image.repository $tag }}{{- end -}}
{{- end -}}

{{/* SPIFFE principal of a ServiceAccount in the release namespace. Call with (dict "root" $ "sa" NAME). */}}
{{- define "agora.principal" -}}
{{- printf "%s/ns/%s/sa/%s" .root.Values.istio.trustDomain .root.Release.Namespace .sa -}}
{{- end -}}

{{/* Seconds of terminationGracePeriodSeconds for a shutdown block. */}}
{{- define "agora.gracePeriod" -}}
{{- $sd := . -}}
{{- add (int $sd.preStopSeconds) (div (add (int $sd.delayMs) (int $sd.timeoutMs) 999) 1000) (int $sd.marginSeconds) -}}
{{- end -}}

{{/* NATS_URL the services use. */}}
{{- define "agora.natsUrl" -}}
{{- if .Values.nats.enabled -}}
nats://nats:4222
{{- else -}}
{{- required "nats.external.url is required when nats.enabled=false" .Values.nats.external.url -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding the Postgres passwords. */}}
{{- define "agora.dbSecret" -}}
{{- .Values.postgres.auth.existingSecret | default "postgres-credentials" -}}
{{- end -}}

{{/* Host, port and query string of the Postgres server the services use. */}}
{{- define "agora.dbEndpoint" -}}
{{- if .Values.postgres.enabled -}}
postgres:5432/%s?sslmode=disable
{{- else -}}
{{- printf "%s:%d/%%s?sslmode=%s" (required "postgres.external.host is required when postgres.enabled=false" .Values.postgres.external.host) (int .Values.postgres.external.port) .Values.postgres.external.sslmode -}}
{{- end -}}
{{- end -}}

{{/* Names of the enabled services, sorted. */}}
{{- define "agora.enabledServices" -}}
{{- $out := list -}}
{{- range $name, $cfg := .Values.services }}{{- if ne (toString $cfg.enabled) "false" }}{{- $out = append $out $name }}{{- end }}{{- end -}}
{{- toJson (sortAlpha $out) -}}
{{- end -}}

{{/*
Pod annotations for Istio: the app starts only after its sidecar is up, and the sidecar outlives the
app's own drain (preStop + SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS).
*/}}
{{- define "agora.istioProxyConfig" -}}
{{- $drain := sub (int (include "agora.gracePeriod" .)) 1 -}}
{{- printf "{\"holdApplicationUntilProxyStarts\": true, \"terminationDrainDuration\": \"%ds\"}" $drain -}}
{{- end -}}
