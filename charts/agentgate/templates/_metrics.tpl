{{/*
Monitoring (values metrics.*, docs/monitoring.md): the helpers of the metrics
Service, the ServiceMonitor / PodMonitor, the PrometheusRule and the
dashboard.
*/}}

{{- define "agentgate.metrics.serviceName" -}}
{{- printf "%s-metrics" (include "agentgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What the metrics Service and the monitors carry, and what a ServiceMonitor selects the Service by. */}}
{{- define "agentgate.metrics.selectorLabels" -}}
{{ include "agentgate.selectorLabels" . }}
app.kubernetes.io/component: metrics
{{- end -}}

{{/* Every process's flag: the plain-HTTP /metrics port the chart scrapes. */}}
{{- define "agentgate.metrics.listenArg" -}}
--metrics-listen=0.0.0.0:{{ int .Values.metrics.port }}
{{- end -}}

{{/*
A duration of ms, s, m, h, d and w parts (90m, 1h30m, 2d) as whole seconds,
for PromQL comparisons. Called with (list "the.values.key" value); fails
naming the key.
*/}}
{{- define "agentgate.metrics.seconds" -}}
{{- $key := index . 0 -}}
{{- $value := toString (index . 1) -}}
{{- if not (regexMatch "^([0-9]+(ms|s|m|h|d|w))+$" $value) -}}
{{- fail (printf "%s: %q is not a duration such as 45s, 15m, 1h30m or 2d" $key $value) -}}
{{- end -}}
{{- $unitMs := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 -}}
{{- $totalMs := 0 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w)" $value -1 -}}
{{- $totalMs = add $totalMs (mul (int64 (regexFind "^[0-9]+" .)) (get $unitMs (regexFind "(ms|s|m|h|d|w)$" .))) -}}
{{- end -}}
{{- div $totalMs 1000 -}}
{{- end -}}

{{/* An alert's labels: its severity, then metrics.prometheusRule.alertLabels. Called with (list $ "warning"). */}}
{{- define "agentgate.metrics.alertLabels" -}}
{{- $root := index . 0 -}}
{{- $labels := merge (dict "severity" (index . 1)) (deepCopy $root.Values.metrics.prometheusRule.alertLabels) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/* Where docs/monitoring.md says what to do about an alert. Called with (list $ "AlertName"). */}}
{{- define "agentgate.metrics.runbook" -}}
{{- $root := index . 0 -}}
{{- printf "%s/blob/main/docs/monitoring.md#%s" (trimSuffix "/" $root.Chart.Home) (index . 1 | lower) -}}
{{- end -}}
