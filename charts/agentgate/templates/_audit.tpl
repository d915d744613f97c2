{{/*
The audit pod, as the Deployment (a scanner every audit.interval) and the
CronJob (audit.schedule: `agentgate audit --once`) run it. Its bundle and
verification flags are the gateway's, so audit judges by what the webhook
judges by. Called with (dict "root" $ "once" bool).
*/}}
{{- define "agentgate.audit.podTemplate" -}}
{{- $root := .root -}}
{{- $once := .once -}}
{{- with $root -}}
metadata:
  labels:
    {{- include "agentgate.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: audit
  annotations:
    checksum/policy: {{ include (print $root.Template.BasePath "/policy-configmap.yaml") . | sha256sum }}
spec:
  serviceAccountName: {{ include "agentgate.fullname" . }}-audit
  {{- if $once }}
  # A failed scan is retried at the next schedule, not by restarting this pod.
  restartPolicy: Never
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "agentgate.podSecurityContext" . | nindent 4 }}
  {{- with .Values.audit.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.audit.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: audit
      image: {{ include "agentgate.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - audit
        - --log-level={{ .Values.logLevel }}
        # Exempt and trusted exactly as the gateway is, so a finding is what the webhook would say.
        - --agentgate-namespace={{ .Release.Namespace }}
        - --service-account={{ include "agentgate.gateway.user" . }}
        - --signing-keys={{ .Release.Namespace }}/{{ include "agentgate.signingKeysName" . }}
        {{- range (include "agentgate.trustedUsers" . | fromJsonArray | rest) }}
        - --trusted-user={{ . }}
        {{- end }}
        {{- if $once }}
        - --once
        - --lease-wait={{ .Values.audit.leaseWait }}
        {{- else }}
        - --interval={{ .Values.audit.interval }}
        - {{ include "agentgate.metrics.listenArg" . }}
        {{- end }}
        - --leader-elect
        - --lease-namespace={{ .Release.Namespace }}
        # The Lease names the Deployment or CronJob as owner: helm uninstall takes it.
        - --owner={{ if $once }}cronjob{{ else }}deployment{{ end }}/{{ include "agentgate.fullname" . }}-audit
        {{- if .Values.policy.config }}
        - --policy-config=/etc/agentgate/policy/config.yaml
        {{- end }}
        {{- range .Values.policy.bundles }}
        - --bundle={{ . }}
        {{- end }}
        {{- if not .Values.policy.defaultBundle }}
        - --no-default-bundle
        {{- end }}
        {{- if .Values.policy.bundles }}
        - --bundle-poll-interval={{ .Values.policy.pollInterval }}
        {{- end }}
        {{- if .Values.policy.verification.publicKey }}
        {{- include "agentgate.gateway.bundleKeyArgs" . | nindent 8 }}
        {{- end }}
        {{- with (include "agentgate.bundleAuth.args" . | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.audit.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        - name: HOME
          value: /tmp
      {{- if not $once }}
      ports:
        - name: metrics
          containerPort: {{ int .Values.metrics.port }}
          protocol: TCP
      readinessProbe:
        httpGet: {path: /readyz, port: metrics}
        periodSeconds: 10
      livenessProbe:
        httpGet: {path: /healthz, port: metrics}
        initialDelaySeconds: 10
        periodSeconds: 20
      {{- end }}
      resources:
        {{- toYaml .Values.audit.resources | nindent 8 }}
      securityContext:
        {{- include "agentgate.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if .Values.policy.config }}
        - name: policy
          mountPath: /etc/agentgate/policy
          readOnly: true
        {{- end }}
        {{- if .Values.policy.verification.publicKey }}
        - name: bundle-key
          mountPath: /etc/agentgate/bundle-key
          readOnly: true
        {{- end }}
        {{- with (include "agentgate.bundleAuth.volumeMounts" . | trim) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.gateway.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {sizeLimit: 256Mi}
    {{- if .Values.policy.config }}
    - name: policy
      configMap:
        name: {{ include "agentgate.policyConfigMapName" . }}
    {{- end }}
    {{- if .Values.policy.verification.publicKey }}
    - name: bundle-key
      configMap:
        name: {{ include "agentgate.fullname" . }}-bundle-key
    {{- end }}
    {{- with (include "agentgate.bundleAuth.volumes" . | trim) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with .Values.gateway.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
