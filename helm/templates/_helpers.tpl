{{/* Names, labels and shared snippets of the dfpy chart. */}}

{{/* Chart name, or nameOverride. */}}
{{- define "dfpy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name prefix: fullnameOverride, or "<release>-<name>" (just the release when it contains the name). */}}
{{- define "dfpy.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 38 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "dfpy.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 38 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 38 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: include "dfpy.component" (list $ "supernode"). */}}
{{- define "dfpy.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "dfpy.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dfpy.supernode.fullname" -}}{{ include "dfpy.component" (list . "supernode") }}{{- end -}}
{{- define "dfpy.supernode.headless" -}}{{ include "dfpy.component" (list . "supernode-headless") }}{{- end -}}
{{- define "dfpy.dfdaemon.fullname" -}}{{ include "dfpy.component" (list . "dfdaemon") }}{{- end -}}
{{- define "dfpy.redis.fullname" -}}{{ include "dfpy.component" (list . "redis") }}{{- end -}}
{{- define "dfpy.auth.secretName" -}}{{ .Values.auth.existingSecret | default (include "dfpy.component" (list . "auth")) }}{{- end -}}

{{/* Labels every object carries: include "dfpy.labels" (list $ "supernode"). */}}
{{- define "dfpy.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ include "dfpy.name" $root }}
{{ include "dfpy.selectorLabels" . }}
{{- with $root.Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component (stable across upgrades). */}}
{{- define "dfpy.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "dfpy.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The dfpy image reference. */}}
{{- define "dfpy.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* True ("true") when the chart renders its own auth Secret. */}}
{{- define "dfpy.auth.render" -}}
{{- $a := .Values.auth -}}
{{- if and (not $a.existingSecret) (or $a.harborWebhook $a.registryWebhook $a.preheat (and .Values.redis.enabled .Values.redis.password)) -}}
true
{{- end -}}
{{- end -}}

{{/* True when the supernode gets its credentials from a Secret (rendered or existing). */}}
{{- define "dfpy.auth.enabled" -}}
{{- if or .Values.auth.existingSecret (include "dfpy.auth.render" .) -}}
true
{{- end -}}
{{- end -}}

{{/* Redis URL for the supernodes, or empty. */}}
{{- define "dfpy.redis.url" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s.%s.svc:%d/0" (include "dfpy.redis.fullname" .) .Release.Namespace (int .Values.redis.port) -}}
{{- else if .Values.redis.externalUrl -}}
{{- .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* Supernode config file: the user's keys plus the keys the chart owns. */}}
{{- define "dfpy.supernode.configYaml" -}}
{{- $owned := dict "port" (int .Values.supernode.ports.api) "download_port" (int .Values.supernode.ports.download) "home_dir" .Values.supernode.homeDir -}}
{{- toYaml (merge $owned (deepCopy (.Values.supernode.config | default dict))) -}}
{{- end -}}

{{/* The --node list of the dfdaemon: explicit nodes, every supernode pod, or the client Service. */}}
{{- define "dfpy.dfdaemon.nodes" -}}
{{- $nodes := list -}}
{{- if .Values.dfdaemon.nodes -}}
{{- $nodes = .Values.dfdaemon.nodes -}}
{{- else if eq .Values.dfdaemon.nodeDiscovery "service" -}}
{{- $nodes = list (printf "%s.%s.svc:%d" (include "dfpy.supernode.fullname" .) .Release.Namespace (int .Values.supernode.ports.api)) -}}
{{- else -}}
{{- $sts := include "dfpy.supernode.fullname" . -}}
{{- $headless := include "dfpy.supernode.headless" . -}}
{{- range $i := until (int .Values.supernode.replicas) -}}
{{- $nodes = append $nodes (printf "%s-%d.%s.%s.svc:%d" $sts $i $headless $.Release.Namespace (int $.Values.supernode.ports.api)) -}}
{{- end -}}
{{- end -}}
{{- join "," $nodes -}}
{{- end -}}
