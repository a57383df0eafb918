'use strict';

// Drives kafkajs's admin client against twinmq's admin keys
// (../kafka_admin_node_test.go): the calls consoles built on kafkajs make.
// BROKERS is the bootstrap address, TOPIC an existing topic of 2
// partitions. Prints one JSON object on stdout with what each call
// returned (or the kafkajs error type it threw); exit 1 on an unexpected
// failure.

const { Kafka, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes,
  ConfigResourceTypes, logLevel } = require('kafkajs');

async function main() {
  const env = process.env;
  const kafka = new Kafka({ clientId: 'kadmin', brokers: [env.BROKERS], logLevel: logLevel.NOTHING,
    retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  const out = {};
  const errType = async (fn) => {
    try {
      return { ok: await fn() };
    } catch (e) {
      return { error: e.type || e.name, message: e.message };
    }
  };
  try {
    out.describeAcls = await errType(() => admin.describeAcls({
      resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
    }));
    out.createAcls = await errType(() => admin.createAcls({ acl: [{
      resourceType: AclResourceTypes.TOPIC, resourceName: env.TOPIC,
      resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*',
      operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW,
    }] }));
    out.listPartitionReassignments = await errType(() => admin.listPartitionReassignments({
      topics: [{ topic: env.TOPIC, partitions: [0, 1] }] }));
    const cluster = await admin.describeCluster();
    const id = String(cluster.brokers[0].nodeId);
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [
      { type: ConfigResourceTypes.BROKER, name: id },
      { type: ConfigResourceTypes.BROKER_LOGGER, name: id },
    ] });
    out.configs = described.resources.map((r) => ({
      type: r.resourceType, errorCode: r.errorCode,
      entries: Object.fromEntries(r.configEntries.map((c) => [c.configName,
        { value: c.configValue, readOnly: c.readOnly, isDefault: c.isDefault, source: c.configSource }])),
    }));
  } finally {
    await admin.disconnect();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`kadmin: ${e.stack || e}\n`);
  process.exit(1);
});
