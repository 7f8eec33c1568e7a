{{/* The image both workloads run. */}}
{{- define "ferry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels of objects that belong to no one component. */}}
{{- define "ferry.labels" -}}
app.kubernetes.io/part-of: ferry
{{- end }}

{{/* The agent's labels; the first line alone is its selector. */}}
{{- define "ferry.agent.labels" -}}
app.kubernetes.io/name: ferry-agent
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: ferry
{{- end }}

{{/* The CA's labels; the first line alone is its selector. */}}
{{- define "ferry.ca.labels" -}}
app.kubernetes.io/name: ferry-ca
app.kubernetes.io/component: ca
app.kubernetes.io/part-of: ferry
{{- end }}

{{/* Where agents reach the CA. */}}
{{- define "ferry.caAddress" -}}
{{ .Values.agent.caAddress | default (printf "ferry-ca.%s.svc:15012" .Release.Namespace) }}
{{- end }}
