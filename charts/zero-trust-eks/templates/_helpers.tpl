{{/*
Shared snippets. Workloads are addressed by their values key (frontend,
apiGateway, urlService, worker); "zt.name" maps a key to the
Kubernetes name, which is also the `app` label, the ServiceAccount and the
last segment of the SPIFFE ID.
*/}}

{{- define "zt.name" -}}
{{- get (dict "frontend" "frontend" "apiGateway" "api-gateway" "urlService" "url-service" "worker" "worker") . -}}
{{- end }}

{{/* The workload's role in the system; never in a selector (Deployment selectors are immutable). */}}
{{- define "zt.component" -}}
{{- get (dict "frontend" "frontend" "apiGateway" "gateway" "urlService" "backend" "worker" "worker") . -}}
{{- end }}

{{- define "zt.labels" -}}
app: {{ include "zt.name" .key }}
app.kubernetes.io/name: {{ include "zt.name" .key }}
app.kubernetes.io/component: {{ include "zt.component" .key }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: zero-trust-eks
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The `app` label is what the NetworkPolicies select on. */}}
{{- define "zt.selectorLabels" -}}
app: {{ include "zt.name" .key }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "zt.image" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ $image.tag | default .root.Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "zt.spiffeId" -}}
spiffe://{{ .root.Values.trustDomain }}/ns/{{ .root.Values.namespaces.services }}/sa/{{ .name }}
{{- end }}

{{/* Seconds Kubernetes waits after SIGTERM: drain delay + shutdown budget + 5 s of slack. */}}
{{- define "zt.terminationGracePeriodSeconds" -}}
{{- $ms := add .Values.lifecycle.drainDelayMs .Values.lifecycle.shutdownTimeoutMs -}}
{{- add (div (add $ms 999) 1000) 5 -}}
{{- end }}

{{/* Pod Security "restricted" at pod level: numeric non-root ids so the kubelet can verify runAsNonRoot. */}}
{{- define "zt.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "zt.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Settings every app container gets. */}}
{{- define "zt.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: DRAIN_DELAY_MS
  value: {{ .Values.lifecycle.drainDelayMs | quote }}
- name: SHUTDOWN_TIMEOUT_MS
  value: {{ .Values.lifecycle.shutdownTimeoutMs | quote }}
{{ include "zt.awsEnv" . }}
{{- end }}

{{- define "zt.awsEnv" -}}
- name: AWS_REGION
  value: {{ .Values.aws.region | quote }}
# Never fall back to the node's instance role (IMDS is also closed by the NetworkPolicies).
- name: AWS_EC2_METADATA_DISABLED
  value: "true"
{{- end }}

{{- define "zt.dbEnv" -}}
- name: DB_SECRET_ARN
  value: {{ .Values.db.secretArn | quote }}
- name: DB_HOST
  value: {{ .Values.db.host | quote }}
- name: DB_PORT
  value: {{ .Values.db.port | quote }}
- name: DB_NAME
  value: {{ .Values.db.name | quote }}
- name: DB_SSL_MODE
  value: verify-full
- name: DB_SSL_CA_FILE
  value: /etc/zt/db-ca/ca.pem
- name: DB_SECRET_TTL_SECONDS
  value: {{ .Values.db.secretTtlSeconds | quote }}
- name: DB_POOL_MAX
  value: {{ .Values.db.poolMax | quote }}
{{- end }}

{{- define "zt.spiffeEnv" -}}
- name: TRUST_DOMAIN
  value: {{ .Values.trustDomain | quote }}
{{- if eq .Values.spiffe.mode "workloadApi" }}
- name: SPIFFE_ENDPOINT_SOCKET
  value: unix:///spiffe-workload-api/spire-agent.sock
{{- else }}
- name: SPIFFE_SVID_DIR
  value: /run/spiffe/svid
{{- end }}
{{- end }}

{{/* Mounts of an SVID workload's app container. */}}
{{- define "zt.spiffeMounts" -}}
{{- if eq .Values.spiffe.mode "workloadApi" }}
- name: spiffe-workload-api
  mountPath: /spiffe-workload-api
  readOnly: true
{{- else }}
- name: svid
  mountPath: /run/spiffe/svid
  readOnly: true
{{- end }}
{{- end }}

{{- define "zt.spiffeVolumes" -}}
# The SPIRE agent's socket through the SPIFFE CSI driver: no hostPath, which
# Pod Security "restricted" forbids.
- name: spiffe-workload-api
  csi:
    driver: csi.spiffe.io
    readOnly: true
{{- if eq .Values.spiffe.mode "files" }}
- name: svid
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: spiffe-helper-config
  configMap:
    name: spiffe-helper
{{- end }}
{{- end }}

{{/* spiffe-helper as a native sidecar (restartPolicy Always): it starts before and outlives the app container. */}}
{{- define "zt.spiffeHelper" -}}
{{- if eq .Values.spiffe.mode "files" }}
- name: spiffe-helper
  image: {{ include "zt.image" (dict "image" .Values.spiffe.helper.image "root" .) }}
  imagePullPolicy: {{ .Values.images.pullPolicy }}
  restartPolicy: Always
  args: ["-config", "/etc/spiffe-helper/helper.conf"]
  securityContext:
    {{- include "zt.containerSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.spiffe.helper.resources | nindent 4 }}
  volumeMounts:
    - name: spiffe-workload-api
      mountPath: /spiffe-workload-api
      readOnly: true
    - name: svid
      mountPath: /run/spiffe/svid
    - name: spiffe-helper-config
      mountPath: /etc/spiffe-helper
      readOnly: true
{{- end }}
{{- end }}

{{/*
The schema migration as the first init container of every pod that uses the
database (dict: root, key, image). The app container starts only after it exits 0,
so no pod serves, and no /readyz passes, before the schema exists; a Helm
hook could not give that on a first install. Replicas that start together
are safe: node-pg-migrate holds a PostgreSQL advisory lock, the others wait
and find nothing to do. It needs no SVID (it only talks to PostgreSQL and
Secrets Manager), so it runs before spiffe-helper and mounts no SPIFFE
volume. Its resources are the app container's: a pod's effective request is
the larger of an init container's and the app's, so this schedules nothing
extra. On failure it exits 1 and the kubelet retries it with backoff, while
the old pods keep serving (maxUnavailable 0).
*/}}
{{- define "zt.migrateInit" -}}
{{- $v := get .root.Values .key -}}
- name: migrate
  # The pod's own image: a worker rolled ahead migrates to the schema it needs.
  image: {{ include "zt.image" (dict "image" .image "root" .root) }}
  imagePullPolicy: {{ .root.Values.images.pullPolicy }}
  # The distroless image's ENTRYPOINT is /nodejs/bin/node and there is no
  # `node` on its PATH: args replace only the CMD (dist/server.js).
  args: ["dist/migrate.js"]
  env:
    - name: LOG_LEVEL
      value: {{ .root.Values.logLevel | quote }}
    {{- include "zt.awsEnv" .root | nindent 4 }}
    {{- include "zt.dbEnv" .root | nindent 4 }}
  securityContext:
    {{- include "zt.containerSecurityContext" .root | nindent 4 }}
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: db-ca
      mountPath: /etc/zt/db-ca
      readOnly: true
{{- end }}

{{- define "zt.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: ops }
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: { path: /healthz, port: ops }
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: ops }
  periodSeconds: 5
  failureThreshold: 2
{{- end }}

{{- define "zt.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "zt.selectorLabels" . | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "zt.selectorLabels" . | nindent 6 }}
{{- end }}

{{/*
Whether an IPv4 CIDR contains the instance metadata address 169.254.169.254
(2852039166): compare both addresses shifted right by the host bits.
Prints "true" or nothing.
*/}}
{{- define "zt.coversImds" -}}
{{- $parts := splitList "/" . -}}
{{- $octets := splitList "." (first $parts) -}}
{{- $ip := 0 -}}
{{- range $octets }}{{ $ip = add (mul $ip 256) (atoi .) }}{{ end -}}
{{- $hostBits := sub 32 (atoi (last $parts)) -}}
{{- $block := 1 -}}
{{- range until (int $hostBits) }}{{ $block = mul $block 2 }}{{ end -}}
{{- if eq (div $ip $block) (div 2852039166 $block) }}true{{ end -}}
{{- end }}

{{/* The egress peers for the AWS endpoint CIDRs, IMDS excepted where covered. */}}
{{- define "zt.awsEndpointPeers" -}}
{{- range .Values.network.awsEndpointCidrs }}
{{- if eq . "169.254.169.254/32" }}{{ fail "network.awsEndpointCidrs must not be the instance metadata address" }}{{ end }}
- ipBlock:
    cidr: {{ . }}
    {{- if include "zt.coversImds" . }}
    except:
      - 169.254.169.254/32
    {{- end }}
{{- end }}
{{- end }}

{{/*
The workloads that call AWS and the database (the worker shares url-service's
image). Their pods' migrate init container runs in the same pod, so these
rules are also the migration's.
*/}}
{{- define "zt.awsWorkloads" -}}
matchExpressions:
  - key: app
    operator: In
    values: [url-service, worker]
{{- end }}

{{/*
DNS for every pod of a namespace (argument: the namespace). Default-deny
egress blocks DNS too; both selectors in ONE peer mean "kube-dns pods in
kube-system" (two peers would mean "anything in kube-system OR any
k8s-app=kube-dns pod here").
*/}}
{{- define "zt.dnsPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns-egress
  namespace: {{ . }}
spec:
  podSelector: {}
  policyTypes:
    - Egress
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
{{- end }}

{{/*
Selector labels of the ingress controller and of Prometheus. The defaults
live here, not in values.yaml: Helm deep-merges a user's map into a default
map, so a default there would silently add labels the user's pods lack.
*/}}
{{- define "zt.ingressControllerPodLabels" -}}
{{- toYaml (.Values.network.public.ingressFrom.controller.podLabels | default (dict "app.kubernetes.io/name" "ingress-nginx" "app.kubernetes.io/component" "controller")) -}}
{{- end }}

{{- define "zt.prometheusPodLabels" -}}
{{- toYaml (.Values.network.prometheus.podLabels | default (dict "app.kubernetes.io/name" "prometheus")) -}}
{{- end }}

{{/*
"true" when the frontend's Ingress is served by the AWS Load Balancer
Controller (className alb): its traffic then comes from the ALB's network
interfaces, not from an ingress controller pod.
*/}}
{{- define "zt.albIngress" -}}
{{- if and .Values.ingress.enabled (eq .Values.ingress.className "alb") }}true{{ end -}}
{{- end }}

{{/*
The user's pod settings of a workload (dict: root, key): its own non-empty
nodeSelector, tolerations, affinity and imagePullSecrets, else the global
ones. Printed at pod spec level; nothing when none is set.
*/}}
{{- define "zt.podSettings" -}}
{{- $v := get .root.Values .key -}}
{{- $g := .root.Values -}}
{{- with ($v.imagePullSecrets | default $g.imagePullSecrets) }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($v.nodeSelector | default $g.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($v.tolerations | default $g.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($v.affinity | default $g.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Pod annotations of a workload (dict: root, key, own: the chart's own
annotations): the chart's win over the workload's, which win over the
global ones. Printed as an `annotations:` block; nothing when empty.
*/}}
{{- define "zt.podAnnotations" -}}
{{- $v := get .root.Values .key -}}
{{- $annotations := merge (dict) (.own | default (dict)) ($v.podAnnotations | default (dict)) (.root.Values.podAnnotations | default (dict)) -}}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "zt.collectorPodLabels" -}}
{{- toYaml (.Values.tracing.collector.podLabels | default (dict "app.kubernetes.io/name" "opentelemetry-collector")) -}}
{{- end }}

{{/* The TCP port of tracing.endpoint: its explicit port, else the scheme's. */}}
{{- define "zt.otlpPort" -}}
{{- $url := urlParse .Values.tracing.endpoint -}}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $url.host) -}}
{{- $port | default (ternary "443" "80" (eq $url.scheme "https")) -}}
{{- end }}

{{/*
The standard OpenTelemetry SDK variables of an app container (dict: root,
name). The SDK reads nothing else, so the services need no tracing config of
their own. The namespace and pod name come from the downward API and are
defined before OTEL_RESOURCE_ATTRIBUTES, which refers to them.
*/}}
{{- define "zt.otelEnv" -}}
{{- $t := .root.Values.tracing -}}
{{- if $t.enabled }}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: { fieldPath: metadata.namespace }
- name: POD_NAME
  valueFrom:
    fieldRef: { fieldPath: metadata.name }
- name: OTEL_SERVICE_NAME
  value: {{ .name }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/json
- name: OTEL_TRACES_SAMPLER
  value: {{ $t.sampler }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerArg | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}

{{/* Labels of the Prometheus Operator objects and the dashboard: the user's (what the operator selects on) and the chart's. */}}
{{- define "zt.metricsLabels" -}}
{{- $own := dict "app.kubernetes.io/part-of" "zero-trust-eks" "app.kubernetes.io/instance" .Release.Name "app.kubernetes.io/managed-by" .Release.Service -}}
{{- toYaml (merge (dict) $own (.Values.metrics.labels | default (dict))) -}}
{{- end }}
