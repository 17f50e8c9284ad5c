"""The digital-twin pipeline over a bus (MQTT or in memory): device -> edge gateway ->
cloud twin, hop by hop under DTHQ sessions, measured stage by stage."""
