/** The customer-orders example on topics of a test's own: WEIR_TEST_PREFIX prefixes the topics and names the app. */
import { customerOrders } from "../../examples/customer-orders.js";

const prefix = process.env.WEIR_TEST_PREFIX ?? "";

export const topology = customerOrders({ appId: `${prefix}app`, prefix });
