{{/* Chart name, truncated for label values. */}}
{{- define "nopbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped prefix of every object name. */}}
{{- define "nopbridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The four services: values key → component (binary and image) name, in start order. */}}
{{- define "nopbridge.components" -}}
ingest: ingest
transform: transform
connectorSink: connector-sink
reconciler: reconciler
{{- end -}}

{{- define "nopbridge.serviceKeys" -}}
{{- list "ingest" "transform" "connectorSink" "reconciler" | toJson -}}
{{- end -}}

{{/* Name of one component's objects. ctx: dict root, component. */}}
{{- define "nopbridge.componentName" -}}
{{- printf "%s-%s" (include "nopbridge.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nopbridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "nopbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nopbridge
{{- end -}}

{{/* Labels of one component. ctx: dict root, component. */}}
{{- define "nopbridge.componentLabels" -}}
{{ include "nopbridge.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nopbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nopbridge.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image of one component. ctx: dict root, component, image (per-service override). */}}
{{- define "nopbridge.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s/%s" $img.repository .component -}}
{{- if and .image .image.repository -}}{{- $repo = .image.repository -}}{{- end -}}
{{- if $img.registry -}}{{- $repo = printf "%s/%s" $img.registry $repo -}}{{- end -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- if and .image .image.tag -}}{{- $tag = .image.tag -}}{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- define "nopbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nopbridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret a component's credentials come from (keys are NOPBRIDGE_* variable names). */}}
{{- define "nopbridge.secretName" -}}
{{- default (include "nopbridge.componentName" .) .svc.secret.name -}}
{{- end -}}

{{/* librdkafka properties as one figment inline table: {"k"="v", ...}. */}}
{{- define "nopbridge.inlineTable" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%q=%q" $k (toString $v)) -}}
{{- end -}}
{{- printf "{%s}" (join ", " $pairs) -}}
{{- end -}}

{{/*
The non-secret configuration of one component as NOPBRIDGE_* variables (docs/configuration.md).
ctx: dict root, key, component, svc.
*/}}
{{- define "nopbridge.envData" -}}
{{- $v := .root.Values -}}
NOPBRIDGE_KAFKA__BOOTSTRAP_SERVERS: {{ required "kafka.bootstrapServers is required" $v.kafka.bootstrapServers | quote }}
NOPBRIDGE_KAFKA__LINGER_MS: {{ $v.kafka.lingerMs | int64 | quote }}
NOPBRIDGE_KAFKA__BATCH_RECORDS: {{ $v.kafka.batchRecords | int64 | quote }}
{{- if $v.kafka.librdkafka }}
NOPBRIDGE_KAFKA__LIBRDKAFKA: {{ include "nopbridge.inlineTable" $v.kafka.librdkafka | quote }}
{{- end }}
NOPBRIDGE_GRPC__LISTEN: {{ printf "0.0.0.0:%d" ($v.grpc.port | int) | quote }}
NOPBRIDGE_SHUTDOWN_DEADLINE_MS: {{ $v.shutdownDeadlineMs | int64 | quote }}
NOPBRIDGE_TELEMETRY__LOG_FORMAT: {{ $v.telemetry.logFormat | quote }}
NOPBRIDGE_TELEMETRY__LOG_LEVEL: {{ $v.telemetry.logLevel | quote }}
{{- if $v.telemetry.otlpEndpoint }}
NOPBRIDGE_TELEMETRY__OTLP_ENDPOINT: {{ $v.telemetry.otlpEndpoint | quote }}
{{- end }}
{{- if $v.metrics.enabled }}
NOPBRIDGE_TELEMETRY__METRICS_LISTEN: {{ printf "0.0.0.0:%d" ($v.metrics.port | int) | quote }}
{{- end }}
{{- if .svc.configToml }}
NOPBRIDGE_CONFIG: /etc/nopbridge/config.toml
{{- end }}
{{- if and (eq .key "ingest") .svc.webhooks.enabled }}
NOPBRIDGE_SERVICE__WEBHOOK_LISTEN: {{ printf "0.0.0.0:%d" (.svc.webhooks.port | int) | quote }}
{{- end }}
{{- if and (eq .key "connectorSink") .svc.quickbooksWebhooks.enabled }}
NOPBRIDGE_SERVICE__QUICKBOOKS_WEBHOOKS__LISTEN: {{ printf "0.0.0.0:%d" (.svc.quickbooksWebhooks.port | int) | quote }}
{{- end }}
{{- if eq .key "transform" }}
NOPBRIDGE_SERVICE__MAPPING_DIR: /etc/nopbridge/mapping
{{- end }}
{{- range $name, $value := .svc.env }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end -}}
