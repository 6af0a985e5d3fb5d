"""A real Redis Cluster on loopback for the tests marked ``cluster``: three primaries and three
replicas, each a ``redis-server`` of the test process's own (ports from tests/web_process.py, the
cluster bus on a second port of its own), without persistence, joined with
``redis-cli --cluster create``. A short node timeout (1 s) lets the failover drill see a replica
promoted within seconds; production keeps Redis's 15 s default or sets its own.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.fault_support import wait_until
from tests.web_process import free_port

NODE_TIMEOUT_MS = 1000


class RedisClusterProcesses:
    """Six redis-server processes in cluster mode; ``url`` is the app's ``redis+cluster://``."""

    def __init__(self, primaries: int = 3) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wmcwm-redis-cluster-"))
        self.ports = [free_port() for _ in range(primaries * 2)]
        self.processes: dict[int, subprocess.Popen] = {}
        try:
            for port in self.ports:
                self._start(port)
            self._create(primaries)
        except BaseException:
            self.stop()
            raise
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:primaries])

    def _start(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
        command += ["--cluster-config-file", str(folder / "nodes.conf")]
        command += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(folder)]
        # A replica syncs at once rather than after the default 5 s a diskless sync waits for
        # more replicas; a replica that has not synced yet can never take its primary over.
        command += ["--repl-diskless-sync-delay", "0"]
        log = (folder / "redis.log").open("ab")
        self.processes[port] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        wait_until(lambda: self._answers(client, port), 10, lambda: self.log(port))
        client.close()

    def _answers(self, client: redis.Redis, port: int) -> bool:
        assert self.processes[port].poll() is None, self.log(port)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def _create(self, primaries: int) -> None:
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        replicas = len(self.ports) // primaries - 1
        command = ["redis-cli", "--cluster", "create", *nodes]
        command += ["--cluster-replicas", str(replicas), "--cluster-yes"]
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_until(self.healthy, 30, "the cluster did not come up: every node's cluster_state ok")
        wait_until(self._replicas_synced, 30, "a replica did not finish its first sync")

    def _nodes(self, port: int) -> dict:
        client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.cluster("nodes")
        finally:
            client.close()

    def _replicas_synced(self) -> bool:
        for port in self.ports:
            client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                replication = client.info("replication")
            finally:
                client.close()
            if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                return False
        return True

    def healthy(self) -> bool:
        """Every running node says the cluster is ok, and every slot's primary is a live node."""
        live = {f"127.0.0.1:{port}" for port, process in self.processes.items() if process.poll() is None}
        for address in live:
            port = int(address.rsplit(":", 1)[1])
            try:
                client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
                try:
                    if client.cluster("info").get("cluster_state") != "ok":
                        return False
                finally:
                    client.close()
                serving = {name for name, node in self._nodes(port).items() if node["slots"]}
            except redis.RedisError:
                return False
            if not serving <= live:
                return False
        return True

    def client(self) -> RedisCluster:
        live = [port for port, process in self.processes.items() if process.poll() is None]
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in live], socket_timeout=2)

    def primary_port_of(self, key: str) -> int:
        """The port of the primary that serves `key`'s slot now."""
        client = self.client()
        try:
            node = client.get_node_from_key(key, replica=False)
            return int(node.port)
        finally:
            client.close()

    def kill(self, port: int) -> None:
        """SIGKILL, as a crash: no goodbye to the rest of the cluster."""
        process = self.processes[port]
        process.kill()
        process.wait()

    def log(self, port: int) -> str:
        path = self.folder / str(port) / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
