"""The fault suite (``nox -s chaos``): the twin pipeline's parties as separate processes
through a broker, with faults injected (connections cut by a proxy, processes killed and
restarted, a failing sink, hostile flights), and a checker in the style of Jepsen's queue
checker that classifies every reading the devices generated."""
