"""A real Kubernetes control plane on one machine, for tests and the single-machine demo.

kube-apiserver, kube-controller-manager, kube-scheduler and etcd are built from Go modules
and cached; a node agent registers a Node and runs the pods scheduled to it as local
processes, each in a network namespace of its own.
"""
