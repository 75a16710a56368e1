output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "kubeconfig_command" {
  description = "Writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${aws_eks_cluster.this.name}"
}

output "audio_bucket" {
  description = "Bucket for recordings (s3://<bucket>/audio/...) and transcripts (s3://<bucket>/transcripts/...)."
  value       = aws_s3_bucket.audio.bucket
}

output "worker_role_arn" {
  description = "IAM role TranscriptionJob workers assume (IRSA) in transcription_namespaces."
  value       = aws_iam_role.worker.arn
}

output "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider, for more IRSA roles."
  value       = aws_iam_openid_connect_provider.this.arn
}
