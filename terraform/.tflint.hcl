# TFLint with its bundled Terraform language rules, all of them (documented and typed
# variables, unused declarations, pinned providers, naming, module structure).
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
