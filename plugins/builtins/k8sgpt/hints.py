"""The remediation hint each analyzer's results carry in `details` with `explain: true`
(k8sgpt asks an AI provider for these; the bot's own model does that part, so these are
short pointers to what to look at next)."""

HINTS = {
    "Pod": "Check `kubectl describe pod` and the previous container's logs; fix the image, "
           "probe, resources or configuration named above.",
    "DaemonSet": "Look at the daemon set's pods on the nodes where they are not ready, and "
                 "create any missing image pull secret.",
    "Deployment": "Look at the deployment's pods (their problems are listed under Pod) and "
                  "its rollout: `kubectl rollout status`.",
    "ReplicaSet": "Fix what blocks pod creation (quota, admission, service account).",
    "PersistentVolumeClaim": "Check the storage class and the provisioner's events.",
    "Service": "Make the selector match ready pods, or fix why those pods are not ready.",
    "Ingress": "Create the missing ingress class, service or TLS secret, or correct the "
               "names.",
    "StatefulSet": "Check the pods, the headless service and the storage class the "
                   "StatefulSet names.",
    "Job": "Look at the job's pods and logs for why they exit non-zero, or resume it.",
    "CronJob": "Fix the schedule or the deadline, resume it, or look at the failed job's pods.",
    "Node": "Check the kubelet and container runtime on the node; drain it if needed.",
    "ValidatingWebhookConfiguration": "A webhook without a running receiver blocks the API "
                                      "requests it validates: restore its service and pods.",
    "MutatingWebhookConfiguration": "A webhook without a running receiver blocks the API "
                                    "requests it mutates: restore its service and pods.",
    "ConfigMap": "Remove config maps nothing uses, or mount them where they are meant.",
    "HorizontalPodAutoscaler": "Point scaleTargetRef at an existing workload whose "
                               "containers set resource requests and limits.",
    "PodDisruptionBudget": "The budget allows no disruption now: check that enough of its "
                           "pods are ready, or relax minAvailable/maxUnavailable.",
    "NetworkPolicy": "Narrow the pod selector, or correct its labels to match pods.",
    "Log": "Read the log around the line quoted above (`kubectl logs --previous`).",
    "GatewayClass": "Check that the gateway controller named in the class is installed.",
    "Gateway": "Check the gateway class and the controller's conditions on the gateway.",
    "HTTPRoute": "Point the route at an existing gateway and service port it may attach to.",
    "Storage": "Clean up released volumes, keep one default storage class, size claims up.",
    "Security": "Give pods their own service account and a security context; avoid "
                "privileged containers and wildcard roles.",
}
