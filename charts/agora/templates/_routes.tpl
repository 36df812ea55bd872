{{/*
The HTTP routes of one VirtualService. Call with (dict "root" $ "s" SERVICE "host" FQDN "weight" CANARY_WEIGHT
"timeout" ROUTE_TIMEOUT). Order: streaming methods with the canary header, the canary header, streaming
methods (no timeout: a stream lasts as long as it must), then everything else split by weight.
*/}}
{{- define "agora.httpRoutes" -}}
{{- $root := .root -}}
{{- $s := .s -}}
{{- $canary := $s.canary.enabled -}}
{{- $hdr := $root.Values.istio.canaryHeader -}}
{{- $streams := list -}}
{{- range ($s.streamingMethods | default list) }}{{- $streams = append $streams (dict "exact" (printf "/%s/%s" $s.grpcService .)) }}{{- end -}}
{{- range ($s.streamingPaths | default list) }}{{- $streams = append $streams (dict "regex" .) }}{{- end -}}
{{- $retries := dict "attempts" (int $root.Values.istio.retries.attempts) -}}
{{- if gt (int $root.Values.istio.retries.attempts) 0 }}{{- $_ := set $retries "retryOn" $root.Values.istio.retries.retryOn }}{{- end -}}
{{- $stable := list (dict "destination" (dict "host" .host "subset" $s.version "port" (dict "number" $s.port)) "weight" (sub 100 .weight)) -}}
{{- $split := $stable -}}
{{- if $canary -}}
{{- $split = append $stable (dict "destination" (dict "host" .host "subset" $s.canary.version "port" (dict "number" $s.port)) "weight" .weight) -}}
{{- end -}}
{{- $toCanary := list (dict "destination" (dict "host" .host "subset" $s.canary.version "port" (dict "number" $s.port)) "weight" 100) -}}
{{- $routes := list -}}
{{- if $canary -}}
{{- if $streams -}}
{{- $m := list }}{{- range $streams }}{{- $m = append $m (dict "uri" . "headers" (dict $hdr.name (dict "exact" $hdr.value))) }}{{- end -}}
{{- $routes = append $routes (dict "name" "canary-header-streams" "match" $m "route" $toCanary "timeout" "0s" "retries" $retries) -}}
{{- end -}}
{{- $routes = append $routes (dict "name" "canary-header" "match" (list (dict "headers" (dict $hdr.name (dict "exact" $hdr.value)))) "route" $toCanary "timeout" .timeout "retries" $retries) -}}
{{- end -}}
{{- if $streams -}}
{{- $m := list }}{{- range $streams }}{{- $m = append $m (dict "uri" .) }}{{- end -}}
{{- $routes = append $routes (dict "name" "streams" "match" $m "route" $split "timeout" "0s" "retries" $retries) -}}
{{- end -}}
{{- $routes = append $routes (dict "name" "default" "route" $split "timeout" .timeout "retries" $retries) -}}
{{- toYaml $routes -}}
{{- end -}}
