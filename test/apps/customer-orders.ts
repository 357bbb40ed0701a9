/**
 * The customer-orders example on topics of a test's own: WEIR_TEST_PREFIX prefixes the topics and names the app;
 * WEIR_TEST_SOURCE_CHANGELOG=1 makes the customers topic the customers table's changelog.
 */
import { customerOrders } from "../../examples/customer-orders.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "";

export const topology = customerOrders({
  appId: `${prefix}app`,
  prefix,
  sourceChangelog: process.env.WEIR_TEST_SOURCE_CHANGELOG === "1",
});
