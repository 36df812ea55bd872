import type { Money } from "@agora/contracts/agora/common/v1/money";
import type { OrderView } from "@agora/contracts/agora/orderhistory/v1/order_view";

/**
 * The projection of one order's events into its view, as plain data and pure functions.
 *
 * The view is a function of the SET of events applied, whatever their order or repetition:
 * - each section (order, payment, shipment) is taken from the event with the highest version of its
 *   aggregate (ties, which only a broken producer could cause, go to the later event id);
 * - the timeline holds every event once (keyed by event id), sorted by occurrence time, then id;
 * - customer id comes from the order section when known, else from the payment or shipment;
 * - update time is the latest occurrence time seen (never the time of applying, so a rebuild ends
 *   identical to the live view).
 * A view exists from the first event of any kind; it is shown once its order section is known.
 */

/** Which aggregate an event is about. */
export type SourceAggregate = "order" | "payment" | "shipment";

/** A money amount as stored in the view (the proto Money shape). */
export type StoredMoney = Money;

/** One order line as stored in the view. */
export interface StoredLine {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPrice: StoredMoney | null;
  lineTotal: StoredMoney | null;
}

/** What the order aggregate says, from its latest event. */
export interface OrderSection {
  version: number;
  eventId: string;
  customerId: string;
  /** Status name without prefix, e.g. "CONFIRMED". */
  status: string;
  lines: StoredLine[];
  total: StoredMoney | null;
  /** When the order was placed (ISO 8601). */
  placeTime: string;
}

/** What the payment aggregate says, from its latest event. */
export interface PaymentSection {
  version: number;
  eventId: string;
  customerId: string;
  paymentId: string;
  status: string;
  amount: StoredMoney | null;
  capturedAmount: StoredMoney | null;
}

/** What the shipment aggregate says, from its latest event. */
export interface ShipmentSection {
  version: number;
  eventId: string;
  customerId: string;
  shipmentId: string;
  status: string;
  carrier: string;
  trackingNumber: string;
}

/** One timeline entry as stored. */
export interface StoredTimelineEntry {
  eventId: string;
  eventType: string;
  description: string;
  /** ISO 8601. */
  occurTime: string;
}

/** The stored state of one order's view. */
export interface ViewState {
  orderId: string;
  order: OrderSection | null;
  payment: PaymentSection | null;
  shipment: ShipmentSection | null;
  timeline: StoredTimelineEntry[];
  /** Latest occurrence time of any applied event (ISO 8601). */
  updateTime: string;
}

/** An event reduced to what the view needs, whatever its type. */
export interface ViewEvent {
  eventId: string;
  eventType: string;
  occurredAt: Date;
  orderId: string;
  description: string;
  /** Exactly one section, matching the event's aggregate. */
  section:
    | { aggregate: "order"; data: Omit<OrderSection, "eventId"> }
    | { aggregate: "payment"; data: Omit<PaymentSection, "eventId"> }
    | { aggregate: "shipment"; data: Omit<ShipmentSection, "eventId"> };
}

/** An empty view of an order no event has been applied to. */
export function emptyView(orderId: string): ViewState {
  return { orderId, order: null, payment: null, shipment: null, timeline: [], updateTime: new Date(0).toISOString() };
}

/** True when `candidate` (version, event id) is newer than what the section holds. */
function newer(current: { version: number; eventId: string } | null, version: number, eventId: string): boolean {
  if (!current) return true;
  if (version !== current.version) return version > current.version;
  return eventId > current.eventId;
}

function byOccurrence(a: StoredTimelineEntry, b: StoredTimelineEntry): number {
  if (a.occurTime !== b.occurTime) return a.occurTime < b.occurTime ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/**
 * Applies one event to a view and returns the new view (the input is not changed). Applying an
 * event already in the timeline returns the view unchanged; the result does not depend on the order
 * in which events arrive.
 */
export function applyEvent(view: ViewState, event: ViewEvent): ViewState {
  if (event.orderId !== view.orderId) throw new Error(`event ${event.eventId} is about another order`);
  if (view.timeline.some((entry) => entry.eventId === event.eventId)) return view;
  const occurTime = event.occurredAt.toISOString();
  const next: ViewState = {
    ...view,
    timeline: [
      ...view.timeline,
      { eventId: event.eventId, eventType: event.eventType, description: event.description, occurTime },
    ].sort(byOccurrence),
    updateTime: [occurTime, view.updateTime].sort()[1] as string, // the later ISO 8601 time
  };
  const { section } = event;
  switch (section.aggregate) {
    case "order":
      if (newer(view.order, section.data.version, event.eventId))
        next.order = { ...section.data, eventId: event.eventId };
      break;
    case "payment":
      if (newer(view.payment, section.data.version, event.eventId)) {
        next.payment = { ...section.data, eventId: event.eventId };
      }
      break;
    case "shipment":
      if (newer(view.shipment, section.data.version, event.eventId)) {
        next.shipment = { ...section.data, eventId: event.eventId };
      }
      break;
  }
  return next;
}

/** Applies events in the order given (any order gives the same result). */
export function applyEvents(view: ViewState, events: readonly ViewEvent[]): ViewState {
  return events.reduce(applyEvent, view);
}

/** The customer a view belongs to: the order's, else the payment's, else the shipment's. */
export function customerOf(view: ViewState): string {
  return view.order?.customerId || view.payment?.customerId || view.shipment?.customerId || "";
}

/** True once the order itself is known: only then is the view shown. */
export function isVisible(view: ViewState): boolean {
  return view.order !== null;
}

/** The proto OrderView of a stored view. */
export function toOrderView(view: ViewState): OrderView {
  const order = view.order;
  return {
    orderId: view.orderId,
    customerId: customerOf(view),
    status: order?.status ?? "",
    lines: (order?.lines ?? []).map((line) => ({
      productId: line.productId,
      sku: line.sku,
      name: line.name,
      quantity: line.quantity,
      unitPrice: line.unitPrice ?? undefined,
      lineTotal: line.lineTotal ?? undefined,
    })),
    total: order?.total ?? undefined,
    payment: view.payment
      ? {
          paymentId: view.payment.paymentId,
          status: view.payment.status,
          amount: view.payment.amount ?? undefined,
          capturedAmount: view.payment.capturedAmount ?? undefined,
        }
      : undefined,
    shipment: view.shipment
      ? {
          shipmentId: view.shipment.shipmentId,
          status: view.shipment.status,
          carrier: view.shipment.carrier,
          trackingNumber: view.shipment.trackingNumber,
        }
      : undefined,
    timeline: view.timeline.map((entry) => ({
      eventType: entry.eventType,
      description: entry.description,
      occurTime: new Date(entry.occurTime),
      eventId: entry.eventId,
    })),
    placeTime: order ? new Date(order.placeTime) : undefined,
    updateTime: new Date(view.updateTime),
  };
}
