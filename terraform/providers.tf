provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { "app.kubernetes.io/part-of" = "whisper-prod" })
  }
}

# Helm talks to the new cluster with a short-lived token from the AWS CLI, so the
# credentials that ran `tofu apply` are the ones Kubernetes sees (cluster admin, below).
provider "helm" {
  kubernetes {
    host                   = aws_eks_cluster.this.endpoint
    cluster_ca_certificate = base64decode(aws_eks_cluster.this.certificate_authority[0].data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", aws_eks_cluster.this.name, "--region", var.region]
    }
  }
}
