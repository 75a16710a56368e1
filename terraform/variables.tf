variable "name" {
  description = "Name of the cluster and prefix of every AWS resource."
  type        = string
  default     = "whisper-prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "AWS region (pick one with GPU capacity of the type in gpu_instance_types)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version."
  type        = string
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version is a minor version such as 1.34."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the new VPC; split into a public and a private subnet per zone."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "availability_zone_count" {
  description = "Availability zones to spread subnets and nodes over."
  type        = number
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "EKS needs at least 2 zones; this module builds at most 3."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone outage)."
  type        = bool
  default     = true
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "Who may reach the Kubernetes API from the internet (empty list: private endpoint only)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.cluster_endpoint_public_access_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every entry must be an IPv4 CIDR."
  }
}

variable "cluster_log_types" {
  description = "EKS control plane logs sent to CloudWatch (each costs ingestion); controllerManager and scheduler are chatty."
  type        = list(string)
  default     = ["api", "audit", "authenticator"]

  validation {
    condition     = alltrue([for type in var.cluster_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], type)])
    error_message = "Log types are api, audit, authenticator, controllerManager and scheduler."
  }
}

variable "cpu_instance_types" {
  description = "Instance types of the CPU node group (operator, CPU pools, workers without a pool)."
  type        = list(string)
  default     = ["c7i.2xlarge"]

  validation {
    condition     = length(var.cpu_instance_types) > 0
    error_message = "Give at least one instance type."
  }
}

variable "cpu_nodes" {
  description = "Size of the CPU node group."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 1, desired = 2, max = 6 }

  validation {
    condition     = var.cpu_nodes.min >= 1 && var.cpu_nodes.min <= var.cpu_nodes.desired && var.cpu_nodes.desired <= var.cpu_nodes.max
    error_message = "Need 1 <= min <= desired <= max (the operator runs on CPU nodes)."
  }
}

variable "gpu_instance_types" {
  description = "Instance types of the GPU node group (NVIDIA; g6.xlarge has one L4 with 24 GB)."
  type        = list(string)
  default     = ["g6.xlarge"]

  validation {
    condition     = alltrue([for type in var.gpu_instance_types : can(regex("^(g4dn|g5|g6|g6e|p4d|p5)\\.", type))])
    error_message = "GPU instance types must be NVIDIA families (g4dn, g5, g6, g6e, p4d, p5)."
  }
}

variable "gpu_nodes" {
  description = "Size of the GPU node group; set all to 0 for a CPU-only cluster."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 0, desired = 1, max = 4 }

  validation {
    condition     = var.gpu_nodes.min >= 0 && var.gpu_nodes.min <= var.gpu_nodes.desired && var.gpu_nodes.desired <= var.gpu_nodes.max
    error_message = "Need 0 <= min <= desired <= max."
  }
}

variable "gpu_capacity_type" {
  description = "ON_DEMAND, or SPOT for batch-only GPU nodes (about 60-70% cheaper; jobs retry interrupted inputs)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.gpu_capacity_type)
    error_message = "gpu_capacity_type is ON_DEMAND or SPOT."
  }
}

variable "audio_bucket_name" {
  description = "S3 bucket for call recordings (under audio/) and transcripts (under transcripts/); created here. Empty: <name>-audio-<account id>."
  type        = string
  default     = ""

  validation {
    condition     = var.audio_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audio_bucket_name))
    error_message = "audio_bucket_name must be a valid S3 bucket name."
  }
}

variable "audio_retention_days" {
  description = "Days before recordings under audio/ expire (0: keep forever). Transcripts are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.audio_retention_days >= 0
    error_message = "audio_retention_days cannot be negative."
  }
}

variable "transcription_namespaces" {
  description = "Namespaces whose TranscriptionJob workers may use the S3 role (IRSA)."
  type        = list(string)
  default     = ["sales"]

  validation {
    condition     = length(var.transcription_namespaces) > 0 && alltrue([for ns in var.transcription_namespaces : can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", ns))])
    error_message = "Give at least one namespace; names are Kubernetes DNS labels."
  }
}

variable "chart" {
  description = "The whisper-prod chart: a path (this repository's charts/whisper-prod) or an OCI reference."
  type        = string
  default     = "../charts/whisper-prod"
}

variable "chart_version" {
  description = "Chart version when chart is an OCI reference; null for a path."
  type        = string
  default     = null
}

variable "operator_image" {
  description = "Operator image repository and tag (push Dockerfile.operator's build here)."
  type = object({
    repository = string
    tag        = string
  })
  default = { repository = "ghcr.io/whisper-prod/operator", tag = "0.1.0" }
}

variable "runtime_image" {
  description = "Runtime image used by pools and workers (build Dockerfile.runtime with VARIANT=cuda for GPU pools)."
  type = object({
    repository = string
    tag        = string
  })
  default = { repository = "ghcr.io/whisper-prod/runtime", tag = "0.1.0" }
}

variable "nvidia_device_plugin_version" {
  description = "Version of NVIDIA's k8s-device-plugin chart (advertises nvidia.com/gpu on GPU nodes)."
  type        = string
  default     = "0.17.1"
}

variable "install_kube_prometheus_stack" {
  description = "Install kube-prometheus-stack (Prometheus, Alertmanager, Grafana) and turn on the chart's monitors, alerts and dashboard."
  type        = bool
  default     = true
}

variable "kube_prometheus_stack_version" {
  description = "Version of the prometheus-community kube-prometheus-stack chart."
  type        = string
  default     = "75.15.1"
}

variable "tags" {
  description = "Tags on every AWS resource (cost allocation)."
  type        = map(string)
  default     = {}
}
