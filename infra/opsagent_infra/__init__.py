"""OpsAgent infrastructure: a CDK Terrain (``cdktn``, Python) app that synthesizes plain Terraform JSON.

Layout (one module per concern, in the spirit of aws-ia/terraform-aws-bedrock):

* ``config``      - the typed per-environment configuration (``infra/environments/<env>.yaml``)
* ``packaging``   - reproducible Lambda zips (``infra/build.py`` / ``make build``)
* ``node``        - jsii runs the Node.js pinned in the lock (imported first, see below)
* ``naming``      - resource names derived from the name prefix
* ``iam``         - policy-document helpers and the least-privilege Lambda role
* ``constructs/`` - ``EncryptionKey``, ``Tables``, ``OpsAgentFunction``, ``ActionGroup``,
  ``AgentGuardrail``, ``Agent`` (+ alias release mechanism), ``EksAccess``, ``AlarmTrigger``
* ``knowledge_base/`` - ``RunbookKnowledgeBase`` (optional): ``bucket``, ``vector_store`` (OpenSearch
  Serverless), ``index_bootstrap`` (apply-time index Lambda) and the Bedrock KB in ``__init__``
* ``stack``       - ``OpsAgentStack`` wiring it all together, plus outputs and backend
* ``policy_scan`` - the offline IAM policy analyzer run over the synthesized ``cdk.tf.json``
"""

import contextlib
from pathlib import Path

from opsagent_infra.node import PinnedNodeMissing, use_pinned_node

# Before anything imports cdktn (jsii starts its Node process on that first import). Modules that
# need no synth (config, policy_scan) still import without the wheel; synth() insists on it.
with contextlib.suppress(PinnedNodeMissing):
    use_pinned_node()

INFRA_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = INFRA_DIR.parent
