{{/*
One Deployment of a service. Call with (dict "root" $ "s" SERVICE_CONFIG "track" "stable"|"canary").
The stable track is named after the service; the canary is <service>-<canary.version>. Both carry
`app: <service>` (the Service selects on it) and their own `version` label (DestinationRule subsets).
*/}}
{{- define "agora.deployment" -}}
{{- $root := .root -}}
{{- $s := .s -}}
{{- $canary := eq .track "canary" -}}
{{- $version := ternary $s.canary.version $s.version $canary -}}
{{- $name := ternary (printf "%s-%s" $s.name $version) $s.name $canary -}}
{{- $image := $s.image -}}
{{- if $canary }}{{- $image = dict "repository" ($s.canary.image | default dict).repository "tag" ($s.canary.image | default dict).tag -}}
{{- $_ := set $image "repository" ($image.repository | default $s.image.repository) -}}
{{- $_ := set $image "tag" ($image.tag | default $s.image.tag) -}}
{{- end -}}
{{- $sd := $s.shutdown -}}
{{- $env := dict -}}
{{- range $k, $v := $s.env }}{{- $_ := set $env $k (toString $v) }}{{- end -}}
{{- if $canary }}{{- range $k, $v := ($s.canary.env | default dict) }}{{- $_ := set $env $k (toString $v) }}{{- end }}{{- end -}}
{{- $replicas := ternary $s.canary.replicas $s.replicas $canary -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "agora.commonLabels" $root | nindent 4 }}
    app: {{ $s.name }}
    version: {{ $version }}
    app.kubernetes.io/name: {{ $s.name }}
    app.kubernetes.io/version: {{ $version | quote }}
    app.kubernetes.io/component: {{ ternary "gateway" "service" $s.isHttp }}
spec:
  {{- if not (and $s.autoscaling.enabled (not $canary)) }}
  replicas: {{ int $replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app: {{ $s.name }}
      version: {{ $version }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: {{ $s.name }}
        version: {{ $version }}
        agora.dev/service: {{ $s.name }}
        app.kubernetes.io/name: {{ $s.name }}
        app.kubernetes.io/part-of: agora
        app.kubernetes.io/instance: {{ $root.Release.Name }}
        {{- if and $root.Values.istio.enabled $root.Values.istio.injectSidecar }}
        sidecar.istio.io/inject: "true"
        {{- end }}
        {{- with $s.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if $root.Values.telemetry.prometheusScrape }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $s.metricsPort | int | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- if $root.Values.istio.enabled }}
        proxy.istio.io/config: {{ include "agora.istioProxyConfig" $sd | quote }}
        {{- end }}
        {{- with $s.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $s.name }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ include "agora.gracePeriod" $sd }}
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ $s.name }}
          image: {{ include "agora.image" (dict "root" $root "image" $image) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            {{- if $s.isHttp }}
            - name: http
              containerPort: {{ $s.port }}
              protocol: TCP
            {{- else }}
            - name: grpc
              containerPort: {{ $s.port }}
              protocol: TCP
            {{- end }}
            - name: http-metrics
              containerPort: {{ $s.metricsPort | int }}
              protocol: TCP
          env:
            {{- if $s.isHttp }}
            - name: HTTP_PORT
              value: {{ $s.port | quote }}
            {{- else }}
            - name: GRPC_PORT
              value: {{ $s.port | quote }}
            {{- end }}
            - name: METRICS_PORT
              value: {{ $s.metricsPort | int | quote }}
            - name: LOG_LEVEL
              value: {{ $s.logLevel | quote }}
            - name: SERVICE_VERSION
              valueFrom:
                fieldRef:
                  fieldPath: metadata.labels['version']
            - name: SHUTDOWN_DELAY_MS
              value: {{ $sd.delayMs | int | quote }}
            - name: SHUTDOWN_TIMEOUT_MS
              value: {{ $sd.timeoutMs | int | quote }}
            {{- with $root.Values.telemetry.otlpEndpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- if $s.nats }}
            - name: NATS_URL
              value: {{ include "agora.natsUrl" $root | quote }}
            {{- end }}
            {{- if $s.database }}
            {{- $db := include "agora.dbName" $s.name }}
            - name: DB_USER
              value: {{ $db }}
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "agora.dbSecret" $root }}
                  key: {{ $s.name }}-password
            - name: DATABASE_URL
              value: {{ printf "postgres://$(DB_USER):$(DB_PASSWORD)@%s" (printf (include "agora.dbEndpoint" $root) $db) | quote }}
            {{- end }}
            {{- if and $s.seedsDemoData $root.Values.demoData }}
            - name: SEED_DEMO_DATA
              value: "true"
            {{- end }}
            {{- range $callee := keys ($s.calls | default dict) | sortAlpha }}
            {{- $c := index $root.Values.services $callee }}
            - name: {{ include "agora.envName" $callee }}_ADDR
              value: {{ printf "%s:%d" $callee (int (ternary $c.httpPort $c.grpcPort (hasKey $c "httpPort"))) | quote }}
            {{- end }}
            {{- range $k := keys $env | sortAlpha }}
            - name: {{ $k }}
              value: {{ index $env $k | quote }}
            {{- end }}
          {{- if $s.isHttp }}
          startupProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ $s.probes.startup.periodSeconds | int }}
            failureThreshold: {{ $s.probes.startup.failureThreshold | int }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: {{ $s.probes.readiness.periodSeconds | int }}
            failureThreshold: {{ $s.probes.readiness.failureThreshold | int }}
            timeoutSeconds: {{ $s.probes.readiness.timeoutSeconds | int }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: {{ $s.probes.liveness.periodSeconds | int }}
            failureThreshold: {{ $s.probes.liveness.failureThreshold | int }}
            timeoutSeconds: {{ $s.probes.liveness.timeoutSeconds | int }}
          {{- else }}
          startupProbe:
            grpc:
              port: {{ $s.port }}
              service: ""
            periodSeconds: {{ $s.probes.startup.periodSeconds | int }}
            failureThreshold: {{ $s.probes.startup.failureThreshold | int }}
          readinessProbe:
            grpc:
              port: {{ $s.port }}
              service: ""
            periodSeconds: {{ $s.probes.readiness.periodSeconds | int }}
            failureThreshold: {{ $s.probes.readiness.failureThreshold | int }}
            timeoutSeconds: {{ $s.probes.readiness.timeoutSeconds | int }}
          livenessProbe:
            grpc:
              port: {{ $s.port }}
              service: ""
            periodSeconds: {{ $s.probes.liveness.periodSeconds | int }}
            failureThreshold: {{ $s.probes.liveness.failureThreshold | int }}
            timeoutSeconds: {{ $s.probes.liveness.timeoutSeconds | int }}
          {{- end }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $sd.preStopSeconds | int }}
          resources:
            {{- toYaml $s.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: {{ not $root.Values.devMode }}
            runAsNonRoot: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
      {{- with $s.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $s.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
