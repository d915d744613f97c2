{{- define "agentgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentgate.fullname" -}}
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

{{- define "agentgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "agentgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentgate
{{- end -}}

{{- define "agentgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agentgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "agentgate.gateway.serviceAccountName" -}}
{{- default (printf "%s-gateway" (include "agentgate.fullname" .)) .Values.gateway.serviceAccount.name -}}
{{- end -}}

{{- define "agentgate.controller.serviceAccountName" -}}
{{- default (printf "%s-controller" (include "agentgate.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- end -}}

{{- define "agentgate.gateway.user" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "agentgate.gateway.serviceAccountName" .) -}}
{{- end -}}

{{- define "agentgate.controller.user" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "agentgate.controller.serviceAccountName" .) -}}
{{- end -}}

{{/* Every identity the gateway trusts like its own (--service-account and --trusted-user). */}}
{{- define "agentgate.trustedUsers" -}}
{{- $users := list (include "agentgate.gateway.user" .) -}}
{{- if .Values.controller.enabled -}}
{{- $users = append $users (include "agentgate.controller.user" .) -}}
{{- end -}}
{{- concat $users .Values.gateway.trustedUsers | uniq | toJson -}}
{{- end -}}

{{/* The webhook Service; also the name both webhook configurations carry. */}}
{{- define "agentgate.serviceName" -}}
{{- include "agentgate.fullname" . -}}
{{- end -}}

{{- define "agentgate.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" -}}
{{- required "certificates.provided.secretName is required with certificates.mode=provided" .Values.certificates.provided.secretName -}}
{{- else -}}
{{- default (printf "%s-tls" (include "agentgate.fullname" .)) .Values.certificates.secretName -}}
{{- end -}}
{{- end -}}

{{- define "agentgate.servingCertificateName" -}}
{{- printf "%s-serving" (include "agentgate.fullname" .) -}}
{{- end -}}

{{/* Where the gateway reads its serving certificate when it does not manage it itself. */}}
{{- define "agentgate.tlsMountPath" -}}/etc/agentgate/tls{{- end -}}

{{- define "agentgate.policyConfigMapName" -}}
{{- printf "%s-policy" (include "agentgate.fullname" .) -}}
{{- end -}}

{{/*
The webhooks' clientConfig: the gateway's Service, or webhook.url for a
gateway outside the cluster. caBundle is set here only in provided mode;
self-managed has the gateway patch it in, cert-manager has cainjector do so.
*/}}
{{/*
The webhook path token: the value set, else the first line of the release's
Secret's, else a new one. Made once per render (kept in .Values), so the Secret and every
webhook carry the same token.
*/}}
{{- define "agentgate.webhookPathTokenName" -}}
{{- printf "%s-webhook-path" (include "agentgate.fullname" .) -}}
{{- end -}}

{{- define "agentgate.webhookPathToken" -}}
{{- if not (hasKey .Values "__agentgateWebhookPathToken") -}}
{{- $token := .Values.gateway.webhookPathToken.value -}}
{{- if not $token -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "agentgate.webhookPathTokenName" .) -}}
{{- $stored := dig "data" "token" "" ($existing | default dict) -}}
{{- $token = ternary ($stored | b64dec | splitList "\n" | first) (randAlphaNum 48 | lower) (ne $stored "") -}}
{{- if not (regexMatch "^[a-z0-9]{32,253}$" $token) -}}
{{- fail (printf "Secret %s holds a webhook path token that is not 32 to 253 lowercase letters and digits; set gateway.webhookPathToken.value, or delete the Secret to have a new one made" (include "agentgate.webhookPathTokenName" .)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set .Values "__agentgateWebhookPathToken" $token -}}
{{- end -}}
{{- index .Values "__agentgateWebhookPathToken" -}}
{{- end -}}

{{- define "agentgate.clientConfig" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- if $root.Values.gateway.webhookPathToken.enabled -}}
{{- $path = printf "%s/%s" $path (include "agentgate.webhookPathToken" $root) -}}
{{- end -}}
{{- if $root.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path | quote }}
{{- else }}
service:
  name: {{ include "agentgate.serviceName" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ $path }}
  port: 443
{{- end }}
{{- if eq $root.Values.certificates.mode "provided" }}
{{- $ca := required "certificates.provided.caBundle is required with certificates.mode=provided" $root.Values.certificates.provided.caBundle }}
caBundle: {{ ternary ($ca | b64enc) ($ca | trim) (contains "-----BEGIN" $ca) }}
{{- end }}
{{- end -}}

{{/* cert-manager mode: cainjector copies the serving Certificate's CA into caBundle. */}}
{{- define "agentgate.webhookAnnotations" -}}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "agentgate.servingCertificateName" .) }}
{{- end -}}

{{/* Settings every webhook shares (as webhookConfigurations() in src/gateway/webhooks.ts). */}}
{{- define "agentgate.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: NoneOnDryRun
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
failurePolicy: {{ .Values.webhook.failurePolicy }}
matchPolicy: Equivalent
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | toJson }}
{{- end -}}

{{/* podSecurityContext and containerSecurityContext (values): every agentgate pod and container. */}}
{{- define "agentgate.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "agentgate.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/* serve flags of self-managed mode: the gateway keeps the Secret and the caBundle of both webhook configurations. */}}
{{- define "agentgate.gateway.selfManagedArgs" -}}
- --cert-secret={{ .Release.Namespace }}/{{ include "agentgate.tlsSecretName" . }}
- --cert-service={{ include "agentgate.serviceName" . }}
- --webhook-config={{ include "agentgate.fullname" . }}
{{- with .Values.webhook.url }}
- --cert-host={{ (urlParse .).host | splitList ":" | first | trimPrefix "[" }}
{{- end }}
{{- end -}}

{{/* serve flags that make every bundle's .signatures.json verify against policy.verification. */}}
{{- define "agentgate.gateway.bundleKeyArgs" -}}
- --bundle-verification-key=/etc/agentgate/bundle-key/key.pem
{{- with .Values.policy.verification.keyId }}
- --bundle-key-id={{ . }}
{{- end }}
{{- with .Values.policy.verification.scope }}
- --bundle-scope={{ . }}
{{- end }}
{{- end -}}

{{/*
How bundle services and registries are authenticated to (policy.bundleAuth),
for serve and audit alike: the flags, and the Secrets and ConfigMaps mounted
as directories (not subPaths) so a rotated token or renewed certificate
reaches the process, which reads the files again, without a restart.
*/}}
{{- define "agentgate.bundleAuth.args" -}}
{{- $a := .Values.policy.bundleAuth -}}
{{- if and $a.caSecret $a.caConfigMap }}
{{- fail "policy.bundleAuth: set caSecret or caConfigMap, not both: --bundle-ca reads one file" }}
{{- end }}
{{- if $a.bearerTokenSecret }}
- --bundle-bearer-token-file=/etc/agentgate/bundle-auth/token/{{ $a.bearerTokenKey }}
{{- end }}
{{- if $a.clientCertSecret }}
- --bundle-client-cert=/etc/agentgate/bundle-auth/client/tls.crt
- --bundle-client-key=/etc/agentgate/bundle-auth/client/tls.key
{{- end }}
{{- if or $a.caSecret $a.caConfigMap }}
- --bundle-ca=/etc/agentgate/bundle-auth/ca/{{ $a.caKey }}
{{- end }}
{{- if $a.registryCredentialsSecret }}
- --bundle-registry-credentials=/etc/agentgate/bundle-auth/registry/config.json
{{- end }}
{{- range $a.insecureRegistries }}
- --bundle-insecure-registry={{ . }}
{{- end }}
{{- end -}}

{{- define "agentgate.bundleAuth.volumeMounts" -}}
{{- $a := .Values.policy.bundleAuth -}}
{{- if $a.bearerTokenSecret }}
- {name: bundle-token, mountPath: /etc/agentgate/bundle-auth/token, readOnly: true}
{{- end }}
{{- if $a.clientCertSecret }}
- {name: bundle-client-cert, mountPath: /etc/agentgate/bundle-auth/client, readOnly: true}
{{- end }}
{{- if or $a.caSecret $a.caConfigMap }}
- {name: bundle-ca, mountPath: /etc/agentgate/bundle-auth/ca, readOnly: true}
{{- end }}
{{- if $a.registryCredentialsSecret }}
- {name: bundle-registry, mountPath: /etc/agentgate/bundle-auth/registry, readOnly: true}
{{- end }}
{{- end -}}

{{- define "agentgate.bundleAuth.volumes" -}}
{{- $a := .Values.policy.bundleAuth -}}
{{- with $a.bearerTokenSecret }}
- name: bundle-token
  secret: {secretName: {{ . }}, items: [{key: {{ $a.bearerTokenKey | quote }}, path: {{ $a.bearerTokenKey | quote }}}]}
{{- end }}
{{- with $a.clientCertSecret }}
- name: bundle-client-cert
  secret: {secretName: {{ . }}, items: [{key: tls.crt, path: tls.crt}, {key: tls.key, path: tls.key}]}
{{- end }}
{{- with $a.caSecret }}
- name: bundle-ca
  secret: {secretName: {{ . }}, items: [{key: {{ $a.caKey | quote }}, path: {{ $a.caKey | quote }}}]}
{{- end }}
{{- with $a.caConfigMap }}
- name: bundle-ca
  configMap: {name: {{ . }}, items: [{key: {{ $a.caKey | quote }}, path: {{ $a.caKey | quote }}}]}
{{- end }}
{{- with $a.registryCredentialsSecret }}
- name: bundle-registry
  secret: {secretName: {{ . }}, items: [{key: .dockerconfigjson, path: config.json}]}
{{- end }}
{{- end -}}

{{/* The Secret holding the keys that sign decisions, and the ConfigMap of the same name publishing their public halves. */}}
{{- define "agentgate.signingKeysName" -}}
{{- printf "%s-signing" (include "agentgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Namespaces the webhooks never see: their runs are never acted on. */}}
{{- define "agentgate.exemptNamespaces" -}}
{{- concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | toJson -}}
{{- end -}}

{{/*
The most any agent run may ever hold (docs/security-model.md, "The ceiling"):
every rule of the policy's rbac.allowed allowlist, of its base config and of
every profile, so the controller can grant what a profile allows and nothing
else. Without policy.bundles the default bundle's allowlist is the base
(files/default-rbac-allowlist.json, kept equal to policies/data.json by a
test); controller.agentRbacCeiling replaces all of it (a team's own bundle).
*/}}
{{- define "agentgate.agentRbacCeiling" -}}
{{- if .Values.controller.agentRbacCeiling -}}
{{- toJson .Values.controller.agentRbacCeiling -}}
{{- else -}}
{{- $config := .Values.policy.config | default dict -}}
{{- $rules := list -}}
{{- $base := ((.Files.Get "files/default-rbac-allowlist.json") | fromJson).allowed -}}
{{- with $config.rbac }}{{ with .allowed }}{{ $base = . }}{{ end }}{{ end -}}
{{- $rules = concat $rules $base -}}
{{- range $name, $profile := ($config.profiles | default dict) -}}
{{- with $profile.rbac }}{{ with .allowed }}{{ $rules = concat $rules . }}{{ end }}{{ end -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}
{{- end -}}

{{/*
One webhook of WEBHOOKS (files/handled-resources.json). Webhooks marked
skipTrusted are not called for agentgate's own identities, nor for garbage
collection deleting (the gateway admits those without looking), unless
webhook.matchConditions is false. Those marked failurePolicy Ignore keep
it whatever webhook.failurePolicy says.
*/}}
{{- define "agentgate.webhook" -}}
{{- $root := index . 0 -}}
{{- $w := index . 1 -}}
{{- $source := index . 2 -}}
{{- $conditions := $w.matchConditions | default list -}}
{{- if and $w.skipTrusted $root.Values.webhook.matchConditions -}}
{{- $trusted := include "agentgate.trustedUsers" $root | fromJsonArray | toJson | replace "\"" "'" -}}
{{- $deleters := $source.systemDeleters | toJson | replace "\"" "'" -}}
{{- $conditions = concat $conditions (list (dict "name" "not-agentgate" "expression" (printf "!(request.userInfo.username in %s)" $trusted)) (dict "name" "not-garbage-collection" "expression" (printf "!(request.operation == 'DELETE' && request.userInfo.username in %s)" $deleters))) -}}
{{- end -}}
{{- $conditions = concat $conditions ($root.Values.webhook.extraMatchConditions | default list) -}}
- name: {{ $w.name }}
  clientConfig:
    {{- include "agentgate.clientConfig" (list $root $w.path) | trim | nindent 4 }}
  rules:
    {{- toYaml $w.rules | nindent 4 }}
  {{- with $w.objectSelector }}
  objectSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $conditions }}
  matchConditions:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $w.reinvocationPolicy }}
  reinvocationPolicy: {{ . }}
  {{- end }}
  admissionReviewVersions: ["v1"]
  sideEffects: NoneOnDryRun
  timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
  failurePolicy: {{ eq $w.failurePolicy "Ignore" | ternary "Ignore" $root.Values.webhook.failurePolicy }}
  matchPolicy: Equivalent
  namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: NotIn
        values: {{ include "agentgate.exemptNamespaces" $root }}
      {{- with $root.Values.webhook.namespaceOptOutLabel }}
      - key: {{ . }}
        operator: DoesNotExist
      {{- end }}
{{- end -}}
