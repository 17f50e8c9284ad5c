"""What each node of a loopback RabbitMQ cluster is started with: its rabbitmq.conf, the
cluster's definitions (its one user), enabled plugins and Erlang cookie, and the
environment the server script reads."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from dthq.transport.brokers import LOOPBACK
from dthq.transport.cluster_folder import write_secret
from dthq.transport.cluster_layout import PASSWORD, USER, Layout, Node

PLUGINS = ("rabbitmq_mqtt", "rabbitmq_consistent_hash_exchange")


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + SHA-256(salt + pw)),
    under a fresh 4-byte salt unless one is given."""
    salt = os.urandom(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError(f"a RabbitMQ salt is 4 bytes, not {len(salt)}")
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def node_config(layout: Layout, node: Node, definitions: Path) -> str:
    peers = "".join(
        f"cluster_formation.classic_config.nodes.{n.index + 1} = {n.name}\n" for n in layout.nodes
    )
    return (
        f"listeners.tcp.default = {LOOPBACK}:{node.amqp}\n"
        f"mqtt.listeners.tcp.default = {LOOPBACK}:{node.mqtt}\n"
        "mqtt.allow_anonymous = false\n"
        "mqtt.vhost = /\n"
        "mqtt.exchange = amq.topic\n"
        # Each persistent MQTT session's queue is replicated on every node.
        "mqtt.durable_queue_type = quorum\n"
        f"distribution.listener.interface = {LOOPBACK}\n"
        "cluster_formation.peer_discovery_backend = classic_config\n"
        f"{peers}"
        "cluster_formation.randomized_startup_delay_range.min = 0\n"
        "cluster_formation.randomized_startup_delay_range.max = 1\n"
        f"load_definitions = {definitions}\n"
        "disk_free_limit.absolute = 50MB\n"
        "log.console = false\n"
        "log.file.level = warning\n"
    )


def definitions() -> str:
    return json.dumps(
        {
            "users": [
                {
                    "name": USER,
                    "password_hash": password_hash(PASSWORD),
                    "hashing_algorithm": "rabbit_password_hashing_sha256",
                    "tags": [],  # MQTT and AMQP need no tag
                }
            ],
            "vhosts": [{"name": "/"}],
            "permissions": [
                {"user": USER, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
            ],
        }
    )


def node_env(folder: Path, layout: Layout, node: Node) -> dict[str, str]:
    """Node ``node``'s environment, its config written into its own folder."""
    home = folder / "nodes" / str(node.index)
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "rabbitmq.conf"
    conf.write_text(node_config(layout, node, folder / "definitions.json"))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),  # where Erlang finds the cluster's cookie
        "LANG": "C.UTF-8",
        "RUNNING_UNDER_SYSTEMD": "1",  # the script execs the VM: its PID is the node
        "RABBITMQ_NODENAME": node.name,
        "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
        "RABBITMQ_NODE_PORT": str(node.amqp),
        "RABBITMQ_DIST_PORT": str(node.dist),
        "RABBITMQ_CONFIG_FILE": str(conf),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "pid"),
        "ERL_EPMD_ADDRESS": LOOPBACK,
        "ERL_EPMD_PORT": str(layout.epmd_port),
    }


def write_shared(folder: Path) -> None:
    """What every node reads: the definitions, the plugins and a fresh cookie."""
    # Erlang refuses a cookie others can read; anyone who reads it controls the nodes.
    write_secret(folder / ".erlang.cookie", os.urandom(16).hex())
    (folder / "definitions.json").write_text(definitions())
    (folder / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
