# What runs in the cluster: NVIDIA's device plugin on GPU nodes, kube-prometheus-stack
# (optional) and whisper-prod itself, with its monitors, alerts and dashboard when
# Prometheus is there.

resource "helm_release" "nvidia_device_plugin" {
  count = var.gpu_nodes.max > 0 ? 1 : 0

  name             = "nvidia-device-plugin"
  repository       = "https://nvidia.github.io/k8s-device-plugin"
  chart            = "nvidia-device-plugin"
  version          = var.nvidia_device_plugin_version
  namespace        = "nvidia-device-plugin"
  create_namespace = true

  values = [yamlencode({
    nodeSelector = { "nvidia.com/gpu.present" = "true" }
    tolerations  = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]
  })]

  depends_on = [aws_eks_node_group.gpu]
}

resource "helm_release" "kube_prometheus_stack" {
  count = var.install_kube_prometheus_stack ? 1 : 0

  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.kube_prometheus_stack_version
  namespace        = "monitoring"
  create_namespace = true

  values = [yamlencode({
    # Pick up monitors and rules of every release, not only this one's.
    prometheus = {
      prometheusSpec = {
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
      }
    }
    grafana = {
      sidecar = { dashboards = { enabled = true, searchNamespace = "ALL" } }
    }
  })]

  depends_on = [aws_eks_addon.coredns]
}

resource "helm_release" "whisper_prod" {
  name             = "whisper-prod"
  chart            = var.chart
  version          = var.chart_version
  namespace        = "whisper-prod"
  create_namespace = true
  wait             = true

  values = [yamlencode({
    operator = {
      image = var.operator_image
    }
    runtime = {
      image                           = var.runtime_image
      workerServiceAccountAnnotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.worker.arn }
    }
    metrics = {
      serviceMonitor   = { enabled = var.install_kube_prometheus_stack }
      podMonitor       = { enabled = var.install_kube_prometheus_stack }
      prometheusRule   = { enabled = var.install_kube_prometheus_stack }
      grafanaDashboard = { enabled = var.install_kube_prometheus_stack }
    }
  })]

  # The monitoring kinds must exist before the chart's monitors are applied.
  depends_on = [aws_eks_addon.coredns, helm_release.kube_prometheus_stack]
}
