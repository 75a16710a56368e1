# The recordings bucket and the IAM role TranscriptionJob workers assume through their
# ServiceAccount (IRSA): read audio/, write transcripts/. The chart annotates every worker
# ServiceAccount with this role (runtime.workerServiceAccountAnnotations).

data "aws_caller_identity" "current" {}

locals {
  bucket_name = var.audio_bucket_name != "" ? var.audio_bucket_name : "${var.name}-audio-${data.aws_caller_identity.current.account_id}"
  oidc_issuer = trimprefix(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://")
  # The operator names worker ServiceAccounts <job>-worker.
  worker_subjects = [for ns in var.transcription_namespaces : "system:serviceaccount:${ns}:*-worker"]
}

resource "aws_s3_bucket" "audio" {
  bucket = local.bucket_name
}

resource "aws_s3_bucket_public_access_block" "audio" {
  bucket                  = aws_s3_bucket.audio.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audio" {
  bucket = aws_s3_bucket.audio.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

# Versioned, so an overwritten or deleted transcript can be recovered for 30 days.
resource "aws_s3_bucket_versioning" "audio" {
  bucket = aws_s3_bucket.audio.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "audio" {
  bucket = aws_s3_bucket.audio.id

  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  dynamic "rule" {
    for_each = var.audio_retention_days > 0 ? [var.audio_retention_days] : []

    content {
      id     = "expire-recordings"
      status = "Enabled"

      filter {
        prefix = "audio/"
      }

      expiration {
        days = rule.value
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.audio]
}

data "aws_iam_policy_document" "worker_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.oidc_issuer}:sub"
      values   = local.worker_subjects
    }
  }
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-transcription-worker"
  description        = "TranscriptionJob workers: read recordings, write transcripts"
  assume_role_policy = data.aws_iam_policy_document.worker_assume.json
}

data "aws_iam_policy_document" "worker_s3" {
  statement {
    sid       = "ListRecordingsAndTranscripts"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.audio.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["audio/*", "transcripts/*"]
    }
  }

  statement {
    sid       = "ReadRecordings"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.audio.arn}/audio/*"]
  }

  statement {
    sid       = "WriteTranscripts"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.audio.arn}/transcripts/*"]
  }
}

resource "aws_iam_role_policy" "worker_s3" {
  name   = "s3-audio"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker_s3.json
}
