# Two managed node groups in the private subnets: CPU nodes for the operator, CPU pools and
# local-model workers; GPU nodes (tainted, so only pods that ask for a GPU land there) for
# `device: cuda` pools. The operator gives cuda pools the nvidia.com/gpu toleration itself.

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])

  role       = aws_iam_role.node.name
  policy_arn = each.key
}

resource "aws_eks_node_group" "cpu" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "cpu"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  ami_type        = "AL2023_x86_64_STANDARD"
  instance_types  = var.cpu_instance_types
  capacity_type   = "ON_DEMAND"
  disk_size       = 50

  scaling_config {
    min_size     = var.cpu_nodes.min
    desired_size = var.cpu_nodes.desired
    max_size     = var.cpu_nodes.max
  }

  update_config {
    max_unavailable = 1
  }

  labels = {
    "whisperprod.io/node-class" = "cpu"
  }

  # The cluster autoscaler (or Karpenter) owns desired_size after the first apply.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node, aws_eks_addon.before_nodes]
}

resource "aws_eks_node_group" "gpu" {
  count = var.gpu_nodes.max > 0 ? 1 : 0

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "gpu"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  # EKS' accelerated AMI: NVIDIA driver and container toolkit preinstalled.
  ami_type       = "AL2023_x86_64_NVIDIA"
  instance_types = var.gpu_instance_types
  capacity_type  = var.gpu_capacity_type
  disk_size      = 100 # CUDA runtime image and model cache

  scaling_config {
    min_size     = var.gpu_nodes.min
    desired_size = var.gpu_nodes.desired
    max_size     = var.gpu_nodes.max
  }

  update_config {
    max_unavailable = 1
  }

  labels = {
    "whisperprod.io/node-class" = "gpu"
    "nvidia.com/gpu.present"    = "true"
  }

  taint {
    key    = "nvidia.com/gpu"
    value  = "true"
    effect = "NO_SCHEDULE"
  }

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [aws_iam_role_policy_attachment.node, aws_eks_addon.before_nodes]
}
