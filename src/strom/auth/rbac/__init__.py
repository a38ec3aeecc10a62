"""RBAC: kube-apiserver's role-based authorizer, evaluated from an immutable policy snapshot.

The semantics are kube's, function by function:

* plugin/pkg/auth/authorizer/rbac/rbac.go: `Authorize` (ALLOW with `RBAC: allowed by ...`, else
  NO_OPINION whose reason carries the resolution errors; RBAC never denies), `RulesFor` and
  `RuleAllows`; subject_locator.go's `AllowedSubjects`;
* pkg/registry/rbac/validation/rule.go: `DefaultRuleResolver.VisitRulesFor` (cluster role
  bindings always, role bindings of the request's namespace), `appliesTo` (the first matching
  subject is the one described), `GetRoleReferenceRules`, the binding describers and
  `ConfirmNoEscalation`;
* pkg/apis/rbac/v1/evaluation_helpers.go: the Verb/APIGroup/Resource(incl. `*/subresource`)/
  ResourceName/NonResourceURL(trailing `*`) matchers and `CompactString`;
* component-helpers' policy_comparator.go (`Covers`, `BreakdownRule`) and policy_compact.go;
* pkg/registry/rbac/escalation_check.go and the policybased storages of roles, cluster roles
  and (cluster) role bindings: what the caller checks before ConfirmNoEscalation;
* pkg/apis/rbac/validation/validation.go: `ValidatePolicyRule`, the roleRef and subject rules.
"""

from strom.auth.rbac.authorizer import (
    CACHE_SIZE,
    RBACAuthorizer,
    allowed_subjects,
    rules_for,
    rules_review_status,
)
from strom.auth.rbac.compare import breakdown_rule, compact_rules, compact_string, covers
from strom.auth.rbac.escalation import (
    AGGREGATION_RULE_MESSAGE,
    FULL_AUTHORITY,
    bind_attributes,
    confirm_no_escalation,
    escalate_attributes,
    escalation_allowed,
    has_aggregation_rule,
    only_gc_fields_changed,
    role_ref_rules,
)
from strom.auth.rbac.snapshot import PolicySnapshot, RoleRefError
from strom.registry.rbac import RBAC_GROUP
from strom.registry.validation.rbac_checks import (
    FieldError,
    validate_binding,
    validate_policy_rule,
    validate_role,
    validate_role_ref,
    validate_role_ref_update,
    validate_subject,
)

__all__ = [
    "AGGREGATION_RULE_MESSAGE",
    "CACHE_SIZE",
    "FULL_AUTHORITY",
    "RBAC_GROUP",
    "FieldError",
    "PolicySnapshot",
    "RBACAuthorizer",
    "RoleRefError",
    "allowed_subjects",
    "bind_attributes",
    "breakdown_rule",
    "compact_rules",
    "compact_string",
    "confirm_no_escalation",
    "covers",
    "escalate_attributes",
    "escalation_allowed",
    "has_aggregation_rule",
    "only_gc_fields_changed",
    "role_ref_rules",
    "rules_for",
    "rules_review_status",
    "validate_binding",
    "validate_policy_rule",
    "validate_role",
    "validate_role_ref",
    "validate_role_ref_update",
    "validate_subject",
]
