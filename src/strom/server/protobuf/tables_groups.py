"""Wire schemas of meta/v1 and of the named API groups.

Field tables in the notation described in `strom.server.protobuf.schema`, transcribed from
kube's go-to-protobuf output in kubernetes/api and kubernetes/apimachinery at their July 2026
heads (kube 1.37 era): field numbers, proto types and map/repeated shapes come from
`<group>/<version>/generated.proto` and `pkg/apis/meta/v1/generated.proto`; JSON names, Go
pointer-ness and omitempty/omitzero come from the struct tags in the matching `types.go`.
Field numbers are wire-protocol facts that Kubernetes keeps stable. Messages appear in the
order they are first reached from `schema.KINDS`.
"""

from __future__ import annotations

TABLES = """
[meta]
ObjectMeta name=1:s generateName=2:s namespace=3:s selfLink=4:s uid=5:s resourceVersion=6:s
    generation=7:i creationTimestamp=8:Time# deletionTimestamp=9:Time?
    deletionGracePeriodSeconds=10:i? labels=11:{s} annotations=12:{s}
    ownerReferences=13:[OwnerReference] finalizers=14:[s] managedFields=17:[ManagedFieldsEntry]
OwnerReference apiVersion=5:s! kind=1:s! name=3:s! uid=4:s! controller=6:t?
    blockOwnerDeletion=7:t?
ManagedFieldsEntry manager=1:s operation=2:s apiVersion=3:s time=4:Time? fieldsType=6:s
    fieldsV1=7:FieldsV1? subresource=8:s
Condition type=1:s! status=2:s! observedGeneration=3:i lastTransitionTime=4:Time! reason=5:s!
    message=6:s!
LabelSelector matchLabels=1:{s} matchExpressions=2:[LabelSelectorRequirement]
LabelSelectorRequirement key=1:s! operator=2:s! values=3:[s]
DeleteOptions gracePeriodSeconds=1:i? preconditions=2:Preconditions? orphanDependents=3:t?
    propagationPolicy=4:s? dryRun=5:[s] ignoreStoreReadErrorWithClusterBreakingPotential=6:t?
Preconditions uid=1:s? resourceVersion=2:s?
FieldSelectorRequirement key=1:s! operator=2:s! values=3:[s]
[apps]
Deployment metadata=1:meta.ObjectMeta spec=2:DeploymentSpec status=3:DeploymentStatus
DeploymentSpec replicas=1:i? selector=2:meta.LabelSelector?! template=3:core.PodTemplateSpec!
    strategy=4:DeploymentStrategy minReadySeconds=5:i revisionHistoryLimit=6:i? paused=7:t
    progressDeadlineSeconds=9:i?
DeploymentStrategy type=1:s rollingUpdate=2:RollingUpdateDeployment?
RollingUpdateDeployment maxUnavailable=1:intstr.IntOrString? maxSurge=2:intstr.IntOrString?
DeploymentStatus observedGeneration=1:i replicas=2:i updatedReplicas=3:i readyReplicas=7:i
    availableReplicas=4:i unavailableReplicas=5:i terminatingReplicas=9:i?
    conditions=6:[DeploymentCondition] collisionCount=8:i?
DeploymentCondition type=1:s! status=2:s! lastUpdateTime=6:meta.Time
    lastTransitionTime=7:meta.Time reason=4:s message=5:s
ReplicaSet metadata=1:meta.ObjectMeta spec=2:ReplicaSetSpec status=3:ReplicaSetStatus
ReplicaSetSpec replicas=1:i? minReadySeconds=4:i selector=2:meta.LabelSelector?!
    template=3:core.PodTemplateSpec
ReplicaSetStatus replicas=1:i! fullyLabeledReplicas=2:i readyReplicas=4:i availableReplicas=5:i
    terminatingReplicas=7:i? observedGeneration=3:i conditions=6:[ReplicaSetCondition]
ReplicaSetCondition type=1:s! status=2:s! lastTransitionTime=3:meta.Time reason=4:s message=5:s
StatefulSet metadata=1:meta.ObjectMeta spec=2:StatefulSetSpec status=3:StatefulSetStatus
StatefulSetSpec replicas=1:i? selector=2:meta.LabelSelector?! template=3:core.PodTemplateSpec!
    volumeClaimTemplates=4:[core.PersistentVolumeClaim] serviceName=5:s! podManagementPolicy=6:s
    updateStrategy=7:StatefulSetUpdateStrategy revisionHistoryLimit=8:i? minReadySeconds=9:i
    persistentVolumeClaimRetentionPolicy=10:StatefulSetPersistentVolumeClaimRetentionPolicy?
    ordinals=11:StatefulSetOrdinals?
StatefulSetUpdateStrategy type=1:s rollingUpdate=2:RollingUpdateStatefulSetStrategy?
RollingUpdateStatefulSetStrategy partition=1:i? maxUnavailable=2:intstr.IntOrString?
StatefulSetPersistentVolumeClaimRetentionPolicy whenDeleted=1:s whenScaled=2:s
StatefulSetOrdinals start=1:i!
StatefulSetStatus observedGeneration=1:i replicas=2:i! readyReplicas=3:i currentReplicas=4:i
    updatedReplicas=5:i currentRevision=6:s updateRevision=7:s collisionCount=9:i?
    conditions=10:[StatefulSetCondition] availableReplicas=11:i!
StatefulSetCondition type=1:s! status=2:s! lastTransitionTime=3:meta.Time reason=4:s message=5:s
DaemonSet metadata=1:meta.ObjectMeta spec=2:DaemonSetSpec status=3:DaemonSetStatus
DaemonSetSpec selector=1:meta.LabelSelector?! template=2:core.PodTemplateSpec!
    updateStrategy=3:DaemonSetUpdateStrategy minReadySeconds=4:i revisionHistoryLimit=6:i?
DaemonSetUpdateStrategy type=1:s rollingUpdate=2:RollingUpdateDaemonSet?
RollingUpdateDaemonSet maxUnavailable=1:intstr.IntOrString? maxSurge=2:intstr.IntOrString?
DaemonSetStatus currentNumberScheduled=1:i! numberMisscheduled=2:i! desiredNumberScheduled=3:i!
    numberReady=4:i! observedGeneration=5:i updatedNumberScheduled=6:i numberAvailable=7:i
    numberUnavailable=8:i collisionCount=9:i? conditions=10:[DaemonSetCondition]
DaemonSetCondition type=1:s! status=2:s! lastTransitionTime=3:meta.Time reason=4:s message=5:s
ControllerRevision metadata=1:meta.ObjectMeta data=2:runtime.RawExtension! revision=3:i!
[batch]
Job metadata=1:meta.ObjectMeta spec=2:JobSpec status=3:JobStatus
JobSpec parallelism=1:i? completions=2:i? activeDeadlineSeconds=3:i?
    podFailurePolicy=11:PodFailurePolicy? successPolicy=16:SuccessPolicy? backoffLimit=7:i?
    backoffLimitPerIndex=12:i? maxFailedIndexes=13:i? selector=4:meta.LabelSelector?
    manualSelector=5:t? template=6:core.PodTemplateSpec! ttlSecondsAfterFinished=8:i?
    completionMode=9:s? suspend=10:t? podReplacementPolicy=14:s? managedBy=15:s?
    scheduling=17:JobSchedulingConfiguration?
PodFailurePolicy rules=1:[PodFailurePolicyRule]!
PodFailurePolicyRule action=1:s! onExitCodes=2:PodFailurePolicyOnExitCodesRequirement?
    onPodConditions=3:[PodFailurePolicyOnPodConditionsPattern]
PodFailurePolicyOnExitCodesRequirement containerName=1:s? operator=2:s! values=3:[i]!
PodFailurePolicyOnPodConditionsPattern type=1:s! status=2:s!
SuccessPolicy rules=1:[SuccessPolicyRule]!
SuccessPolicyRule succeededIndexes=1:s? succeededCount=2:i?
JobSchedulingConfiguration
    schedulingPolicy=1:schedulingv1alpha3.WorkloadPodGroupSchedulingPolicy?
    schedulingConstraints=2:schedulingv1alpha3.WorkloadPodGroupSchedulingConstraints?
    disruptionMode=3:schedulingv1alpha3.WorkloadPodGroupDisruptionMode?
    resourceClaims=4:[schedulingv1alpha3.WorkloadPodGroupResourceClaim]
JobStatus conditions=1:[JobCondition] startTime=2:meta.Time? completionTime=3:meta.Time?
    active=4:i succeeded=5:i failed=6:i terminating=11:i? completedIndexes=7:s
    failedIndexes=10:s? uncountedTerminatedPods=8:UncountedTerminatedPods? ready=9:i?
JobCondition type=1:s! status=2:s! lastProbeTime=3:meta.Time lastTransitionTime=4:meta.Time
    reason=5:s message=6:s
UncountedTerminatedPods succeeded=1:[s] failed=2:[s]
CronJob metadata=1:meta.ObjectMeta spec=2:CronJobSpec status=3:CronJobStatus
CronJobSpec schedule=1:s! timeZone=8:s? startingDeadlineSeconds=2:i? concurrencyPolicy=3:s
    suspend=4:t? jobTemplate=5:JobTemplateSpec! successfulJobsHistoryLimit=6:i?
    failedJobsHistoryLimit=7:i?
JobTemplateSpec metadata=1:meta.ObjectMeta spec=2:JobSpec
CronJobStatus active=1:[core.ObjectReference] lastScheduleTime=4:meta.Time?
    lastSuccessfulTime=5:meta.Time?
[schedulingv1alpha3]
WorkloadPodGroupSchedulingPolicy basic=1:WorkloadPodGroupBasicSchedulingPolicy?
    gang=2:WorkloadPodGroupGangSchedulingPolicy?
WorkloadPodGroupBasicSchedulingPolicy
WorkloadPodGroupGangSchedulingPolicy minCount=1:i?
WorkloadPodGroupSchedulingConstraints topology=1:[TopologyConstraint]
TopologyConstraint key=1:s!
WorkloadPodGroupDisruptionMode single=1:WorkloadPodGroupSingleDisruptionMode?
    all=2:WorkloadPodGroupAllDisruptionMode?
WorkloadPodGroupSingleDisruptionMode
WorkloadPodGroupAllDisruptionMode
WorkloadPodGroupResourceClaim name=1:s! resourceClaimName=2:s? resourceClaimTemplateName=3:s?
[rbac]
Role metadata=1:meta.ObjectMeta rules=2:[PolicyRule]!
PolicyRule verbs=1:[s]! apiGroups=2:[s] resources=3:[s] resourceNames=4:[s]
    nonResourceURLs=5:[s]
ClusterRole metadata=1:meta.ObjectMeta rules=2:[PolicyRule]! aggregationRule=3:AggregationRule?
AggregationRule clusterRoleSelectors=1:[meta.LabelSelector]
RoleBinding metadata=1:meta.ObjectMeta subjects=2:[Subject] roleRef=3:RoleRef!
Subject kind=1:s! apiGroup=2:s name=3:s! namespace=4:s
RoleRef apiGroup=1:s! kind=2:s! name=3:s!
ClusterRoleBinding metadata=1:meta.ObjectMeta subjects=2:[Subject] roleRef=3:RoleRef!
[scheduling]
PriorityClass metadata=1:meta.ObjectMeta value=2:i! globalDefault=3:t description=4:s
    preemptionPolicy=5:s?
[policy]
PodDisruptionBudget metadata=1:meta.ObjectMeta spec=2:PodDisruptionBudgetSpec
    status=3:PodDisruptionBudgetStatus
PodDisruptionBudgetSpec minAvailable=1:intstr.IntOrString? selector=2:meta.LabelSelector?
    maxUnavailable=3:intstr.IntOrString? unhealthyPodEvictionPolicy=4:s?
PodDisruptionBudgetStatus observedGeneration=1:i disruptedPods=2:{meta.Time}
    disruptionsAllowed=3:i! currentHealthy=4:i! desiredHealthy=5:i! expectedPods=6:i!
    conditions=7:[meta.Condition]
Eviction metadata=1:meta.ObjectMeta deleteOptions=2:meta.DeleteOptions?
[networking]
Ingress metadata=1:meta.ObjectMeta spec=2:IngressSpec status=3:IngressStatus
IngressSpec ingressClassName=4:s? defaultBackend=1:IngressBackend? tls=2:[IngressTLS]
    rules=3:[IngressRule]
IngressBackend service=4:IngressServiceBackend? resource=3:core.TypedLocalObjectReference?
IngressServiceBackend name=1:s! port=2:ServiceBackendPort
ServiceBackendPort name=1:s number=2:i
IngressTLS hosts=1:[s] secretName=2:s
IngressRule host=1:s ^=2:IngressRuleValue!
IngressRuleValue http=1:HTTPIngressRuleValue?
HTTPIngressRuleValue paths=1:[HTTPIngressPath]!
HTTPIngressPath path=1:s pathType=3:s?! backend=2:IngressBackend!
IngressStatus loadBalancer=1:IngressLoadBalancerStatus
IngressLoadBalancerStatus ingress=1:[IngressLoadBalancerIngress]
IngressLoadBalancerIngress ip=1:s hostname=2:s ports=4:[IngressPortStatus]
IngressPortStatus port=1:i! protocol=2:s! error=3:s?
IngressClass metadata=1:meta.ObjectMeta spec=2:IngressClassSpec
IngressClassSpec controller=1:s parameters=2:IngressClassParametersReference?
IngressClassParametersReference apiGroup=1:s? kind=2:s! name=3:s! scope=4:s?! namespace=5:s?
NetworkPolicy metadata=1:meta.ObjectMeta spec=2:NetworkPolicySpec
NetworkPolicySpec podSelector=1:meta.LabelSelector! ingress=2:[NetworkPolicyIngressRule]
    egress=3:[NetworkPolicyEgressRule] policyTypes=4:[s]
NetworkPolicyIngressRule ports=1:[NetworkPolicyPort] from=2:[NetworkPolicyPeer]
NetworkPolicyPort protocol=1:s? port=2:intstr.IntOrString? endPort=3:i?
NetworkPolicyPeer podSelector=1:meta.LabelSelector? namespaceSelector=2:meta.LabelSelector?
    ipBlock=3:IPBlock?
IPBlock cidr=1:s! except=2:[s]
NetworkPolicyEgressRule ports=1:[NetworkPolicyPort] to=2:[NetworkPolicyPeer]
[coordination]
Lease metadata=1:meta.ObjectMeta spec=2:LeaseSpec
LeaseSpec holderIdentity=1:s? leaseDurationSeconds=2:i? acquireTime=3:meta.MicroTime?
    renewTime=4:meta.MicroTime? leaseTransitions=5:i? strategy=6:s? preferredHolder=7:s?
[events]
Event metadata=1:meta.ObjectMeta! eventTime=2:meta.MicroTime! series=3:EventSeries?
    reportingController=4:s reportingInstance=5:s action=6:s reason=7:s
    regarding=8:core.ObjectReference related=9:core.ObjectReference? note=10:s type=11:s
    deprecatedSource=12:core.EventSource deprecatedFirstTimestamp=13:meta.Time
    deprecatedLastTimestamp=14:meta.Time deprecatedCount=15:i
EventSeries count=1:i! lastObservedTime=2:meta.MicroTime!
[authorization]
SelfSubjectAccessReview metadata=1:meta.ObjectMeta spec=2:SelfSubjectAccessReviewSpec!
    status=3:SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec resourceAttributes=1:ResourceAttributes?
    nonResourceAttributes=2:NonResourceAttributes?
ResourceAttributes namespace=1:s verb=2:s group=3:s version=4:s resource=5:s subresource=6:s
    name=7:s fieldSelector=8:FieldSelectorAttributes? labelSelector=9:LabelSelectorAttributes?
FieldSelectorAttributes rawSelector=1:s requirements=2:[meta.FieldSelectorRequirement]
LabelSelectorAttributes rawSelector=1:s requirements=2:[meta.LabelSelectorRequirement]
NonResourceAttributes path=1:s verb=2:s
SubjectAccessReviewStatus allowed=1:t! denied=4:t reason=2:s evaluationError=3:s
SubjectAccessReview metadata=1:meta.ObjectMeta spec=2:SubjectAccessReviewSpec!
    status=3:SubjectAccessReviewStatus
SubjectAccessReviewSpec resourceAttributes=1:ResourceAttributes?
    nonResourceAttributes=2:NonResourceAttributes? user=3:s groups=4:[s] extra=5:{ExtraValue}
    uid=6:s
ExtraValue [s]
LocalSubjectAccessReview metadata=1:meta.ObjectMeta spec=2:SubjectAccessReviewSpec!
    status=3:SubjectAccessReviewStatus
SelfSubjectRulesReview metadata=1:meta.ObjectMeta spec=2:SelfSubjectRulesReviewSpec!
    status=3:SubjectRulesReviewStatus
SelfSubjectRulesReviewSpec namespace=1:s
SubjectRulesReviewStatus resourceRules=1:[ResourceRule]! nonResourceRules=2:[NonResourceRule]!
    incomplete=3:t! evaluationError=4:s
ResourceRule verbs=1:[s]! apiGroups=2:[s] resources=3:[s] resourceNames=4:[s]
NonResourceRule verbs=1:[s]! nonResourceURLs=2:[s]
[certificates]
CertificateSigningRequest metadata=1:meta.ObjectMeta spec=2:CertificateSigningRequestSpec!
    status=3:CertificateSigningRequestStatus
CertificateSigningRequestSpec request=1:b! signerName=7:s! expirationSeconds=8:i? usages=5:[s]
    username=2:s uid=3:s groups=4:[s] extra=6:{ExtraValue}
ExtraValue [s]
CertificateSigningRequestStatus conditions=1:[CertificateSigningRequestCondition]
    certificate=2:b
CertificateSigningRequestCondition type=1:s! status=6:s! reason=2:s message=3:s
    lastUpdateTime=4:meta.Time# lastTransitionTime=5:meta.Time#
[authentication]
SelfSubjectReview metadata=1:meta.ObjectMeta status=2:SelfSubjectReviewStatus
SelfSubjectReviewStatus userInfo=1:UserInfo
UserInfo username=1:s uid=2:s groups=3:[s] extra=4:{ExtraValue}
ExtraValue [s]
TokenReview metadata=1:meta.ObjectMeta spec=2:TokenReviewSpec! status=3:TokenReviewStatus
TokenReviewSpec token=1:s audiences=2:[s]
TokenReviewStatus authenticated=1:t user=2:UserInfo audiences=4:[s] error=3:s
TokenRequest metadata=1:meta.ObjectMeta spec=2:TokenRequestSpec! status=3:TokenRequestStatus
TokenRequestSpec audiences=1:[s]! expirationSeconds=4:i?!
    boundObjectRef=3:BoundObjectReference?! attestations=5:{AttestationValue}
BoundObjectReference kind=1:s apiVersion=2:s name=3:s uid=4:s
AttestationValue [s]
TokenRequestStatus token=1:s! expirationTimestamp=2:meta.Time!
[autoscaling]
Scale metadata=1:meta.ObjectMeta spec=2:ScaleSpec status=3:ScaleStatus
ScaleSpec replicas=1:i
ScaleStatus replicas=1:i! selector=2:s
HorizontalPodAutoscaler metadata=1:meta.ObjectMeta spec=2:HorizontalPodAutoscalerSpec
    status=3:HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerSpec scaleTargetRef=1:CrossVersionObjectReference! minReplicas=2:i?
    maxReplicas=3:i! targetCPUUtilizationPercentage=4:i?
CrossVersionObjectReference kind=1:s! name=2:s! apiVersion=3:s
HorizontalPodAutoscalerStatus observedGeneration=1:i? lastScaleTime=2:meta.Time?
    currentReplicas=3:i! desiredReplicas=4:i! currentCPUUtilizationPercentage=5:i?
[autoscaling2]
HorizontalPodAutoscaler metadata=1:meta.ObjectMeta spec=2:HorizontalPodAutoscalerSpec
    status=3:HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerSpec scaleTargetRef=1:CrossVersionObjectReference! minReplicas=2:i?
    maxReplicas=3:i! metrics=4:[MetricSpec] behavior=5:HorizontalPodAutoscalerBehavior?
CrossVersionObjectReference kind=1:s! name=2:s! apiVersion=3:s
MetricSpec type=1:s! object=2:ObjectMetricSource? pods=3:PodsMetricSource?
    resource=4:ResourceMetricSource? containerResource=7:ContainerResourceMetricSource?
    external=5:ExternalMetricSource?
ObjectMetricSource describedObject=1:CrossVersionObjectReference! target=2:MetricTarget!
    metric=3:MetricIdentifier!
MetricTarget type=1:s! value=2:resource.Quantity? averageValue=3:resource.Quantity?
    averageUtilization=4:i?
MetricIdentifier name=1:s! selector=2:meta.LabelSelector?
PodsMetricSource metric=1:MetricIdentifier! target=2:MetricTarget!
ResourceMetricSource name=1:s! target=2:MetricTarget!
ContainerResourceMetricSource name=1:s! target=2:MetricTarget! container=3:s!
ExternalMetricSource metric=1:MetricIdentifier! target=2:MetricTarget!
HorizontalPodAutoscalerBehavior scaleUp=1:HPAScalingRules? scaleDown=2:HPAScalingRules?
HPAScalingRules stabilizationWindowSeconds=3:i? selectPolicy=1:s? policies=2:[HPAScalingPolicy]
    tolerance=4:resource.Quantity?
HPAScalingPolicy type=1:s! value=2:i! periodSeconds=3:i!
HorizontalPodAutoscalerStatus observedGeneration=1:i? lastScaleTime=2:meta.Time?
    currentReplicas=3:i desiredReplicas=4:i! currentMetrics=5:[MetricStatus]!
    conditions=6:[HorizontalPodAutoscalerCondition]
MetricStatus type=1:s! object=2:ObjectMetricStatus? pods=3:PodsMetricStatus?
    resource=4:ResourceMetricStatus? containerResource=7:ContainerResourceMetricStatus?
    external=5:ExternalMetricStatus?
ObjectMetricStatus metric=1:MetricIdentifier! current=2:MetricValueStatus!
    describedObject=3:CrossVersionObjectReference!
MetricValueStatus value=1:resource.Quantity? averageValue=2:resource.Quantity?
    averageUtilization=3:i?
PodsMetricStatus metric=1:MetricIdentifier! current=2:MetricValueStatus!
ResourceMetricStatus name=1:s! current=2:MetricValueStatus!
ContainerResourceMetricStatus name=1:s! current=2:MetricValueStatus! container=3:s!
ExternalMetricStatus metric=1:MetricIdentifier! current=2:MetricValueStatus!
HorizontalPodAutoscalerCondition type=1:s! status=2:s! lastTransitionTime=3:meta.Time reason=4:s
    message=5:s observedGeneration=6:i?
[storage]
StorageClass metadata=1:meta.ObjectMeta provisioner=2:s! parameters=3:{s} reclaimPolicy=4:s?
    mountOptions=5:[s] allowVolumeExpansion=6:t? volumeBindingMode=7:s?
    allowedTopologies=8:[core.TopologySelectorTerm]
[discovery]
EndpointSlice metadata=1:meta.ObjectMeta addressType=4:s! endpoints=2:[Endpoint]!
    ports=3:[EndpointPort]!
Endpoint addresses=1:[s]! conditions=2:EndpointConditions hostname=3:s?
    targetRef=4:core.ObjectReference? deprecatedTopology=5:{s} nodeName=6:s? zone=7:s?
    hints=8:EndpointHints?
EndpointConditions ready=1:t? serving=2:t? terminating=3:t?
EndpointHints forZones=1:[ForZone] forNodes=2:[ForNode]
ForZone name=1:s!
ForNode name=1:s!
EndpointPort name=1:s? protocol=2:s? port=3:i? appProtocol=4:s?
"""
