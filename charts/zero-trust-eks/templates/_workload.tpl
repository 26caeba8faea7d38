{{/*
A Deployment of one app workload. Arguments (dict):
  root, key (values key), namespace, image (values image), port (0 = none),
  portName, opsPort, args (list or empty: the image's CMD), env (YAML list as a string),
  spiffe (mount the SVID source), db (mount the database CA and migrate the
  schema in an init container first).
*/}}
{{- define "zt.deployment" -}}
{{- $v := get .root.Values .key -}}
{{- $name := include "zt.name" .key -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "zt.labels" . | nindent 4 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "zt.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
  template:
    metadata:
      labels:
        {{- include "zt.labels" . | nindent 8 }}
      {{- /* checksum/db-ca rolls the pods when the database CA bundle changes. */}}
      {{- $own := ternary (dict "checksum/db-ca" (.root.Values.db.caBundle | sha256sum)) (dict) (.db | default false) }}
      {{- include "zt.podAnnotations" (dict "root" .root "key" .key "own" $own) | nindent 6 }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ include "zt.terminationGracePeriodSeconds" .root }}
      securityContext:
        {{- include "zt.podSecurityContext" .root | nindent 8 }}
      topologySpreadConstraints:
        {{- include "zt.topologySpread" . | nindent 8 }}
      {{- include "zt.podSettings" . | nindent 6 }}
      {{- $spiffeHelper := and .spiffe (eq .root.Values.spiffe.mode "files") }}
      {{- if or .db $spiffeHelper }}
      initContainers:
        {{- if .db }}
        {{- include "zt.migrateInit" . | nindent 8 }}
        {{- end }}
        {{- if $spiffeHelper }}
        {{- include "zt.spiffeHelper" .root | trim | nindent 8 }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "zt.image" (dict "image" .image "root" .root) }}
          imagePullPolicy: {{ .root.Values.images.pullPolicy }}
          {{- /* args, never command: the image's ENTRYPOINT is the only node it has. */}}
          {{- with .args }}
          args: {{ toJson . }}
          {{- end }}
          ports:
            {{- if .port }}
            - name: {{ .portName }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
            - name: ops
              containerPort: {{ .opsPort }}
              protocol: TCP
          env:
            {{- include "zt.commonEnv" .root | nindent 12 }}
            - name: OPS_PORT
              value: {{ .opsPort | quote }}
            {{- if .port }}
            - name: PORT
              value: {{ .port | quote }}
            {{- end }}
            {{- .env | nindent 12 }}
            {{- if .spiffe }}
            {{- include "zt.spiffeEnv" .root | nindent 12 }}
            {{- end }}
            {{- if .db }}
            {{- include "zt.dbEnv" .root | nindent 12 }}
            {{- end }}
            {{- include "zt.otelEnv" (dict "root" .root "name" $name) | nindent 12 }}
          {{- include "zt.probes" . | nindent 10 }}
          securityContext:
            {{- include "zt.containerSecurityContext" .root | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .spiffe }}
            {{- include "zt.spiffeMounts" .root | trim | nindent 12 }}
            {{- end }}
            {{- if .db }}
            - name: db-ca
              mountPath: /etc/zt/db-ca
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if .spiffe }}
        {{- include "zt.spiffeVolumes" .root | nindent 8 }}
        {{- end }}
        {{- if .db }}
        - name: db-ca
          configMap:
            name: db-ca
        {{- end }}
{{- end }}

{{/* PodDisruptionBudget and optional HorizontalPodAutoscaler of a workload (dict: root, key, namespace). */}}
{{- define "zt.availability" -}}
{{- $v := get .root.Values .key -}}
{{- $name := include "zt.name" .key -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "zt.labels" . | nindent 4 }}
spec:
  minAvailable: {{ $v.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "zt.selectorLabels" . | nindent 6 }}
{{- if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "zt.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/* A ClusterIP Service whose port equals the containerPort (the VPC CNI applies policy before DNAT). */}}
{{- define "zt.service" -}}
{{- $name := include "zt.name" .key -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "zt.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "zt.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .port }}
      protocol: TCP
{{- end }}

{{- define "zt.apiGatewayEnv" -}}
- name: URL_SERVICE_URL
  value: https://url-service.{{ .Values.namespaces.services }}.svc.cluster.local:8443
- name: URL_SERVICE_ID
  value: {{ include "zt.spiffeId" (dict "root" . "name" "url-service") }}
- name: PUBLIC_BASE_URL
  value: {{ .Values.publicBaseUrl | quote }}
- name: TRUSTED_PROXIES
  value: {{ join "," .Values.apiGateway.trustedProxies | quote }}
- name: RATE_LIMIT_MAX
  value: {{ .Values.apiGateway.rateLimit.max | quote }}
- name: RATE_LIMIT_WINDOW_MS
  value: {{ .Values.apiGateway.rateLimit.windowMs | quote }}
- name: UPSTREAM_TIMEOUT_MS
  value: {{ .Values.apiGateway.upstreamTimeoutMs | quote }}
{{- end }}

{{- define "zt.eventsEnv" -}}
- name: EVENTS_QUEUE_URL
  value: {{ .Values.events.queueUrl | quote }}
{{- end }}

{{- define "zt.urlServiceEnv" -}}
- name: AUTHORIZED_CALLERS
  value: {{ include "zt.spiffeId" (dict "root" . "name" "api-gateway") }}
{{ include "zt.eventsEnv" . }}
{{- end }}
