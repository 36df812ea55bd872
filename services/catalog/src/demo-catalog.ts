import type { NewProduct } from "./products";

const eur = (units: number, cents: number) => ({
  currency: "EUR",
  nanos: BigInt(units) * 1_000_000_000n + BigInt(cents) * 10_000_000n,
});
const image = (id: string) => `https://images.agora.example/products/${id}.jpg`;

/**
 * The demo catalog seeded when SEED_DEMO_DATA=true: twenty products in six categories. Ids and SKUs
 * are fixed so the README's commands work as written; inventory seeds stock for the same SKUs.
 */
export const demoProducts: readonly NewProduct[] = [
  [
    "espresso-machine",
    "AG-COF-001",
    "Espresso Machine",
    "Dual-boiler espresso machine with PID temperature control.",
    "coffee",
    eur(649, 0),
  ],
  [
    "burr-grinder",
    "AG-COF-002",
    "Burr Grinder",
    "Conical burr grinder with 40 grind settings.",
    "coffee",
    eur(189, 90),
  ],
  [
    "pour-over-kettle",
    "AG-COF-003",
    "Pour-Over Kettle",
    "Gooseneck kettle with a thermometer, 1 litre.",
    "coffee",
    eur(59, 90),
  ],
  [
    "coffee-beans-ethiopia",
    "AG-COF-004",
    "Ethiopian Coffee Beans",
    "Washed Yirgacheffe, light roast, 250 g.",
    "coffee",
    eur(14, 50),
  ],
  ["chef-knife", "AG-KIT-001", "Chef's Knife", "20 cm chef's knife, forged stainless steel.", "kitchen", eur(89, 0)],
  [
    "cast-iron-skillet",
    "AG-KIT-002",
    "Cast Iron Skillet",
    "Pre-seasoned 26 cm skillet for stove and oven.",
    "kitchen",
    eur(44, 95),
  ],
  ["cutting-board", "AG-KIT-003", "Walnut Cutting Board", "End-grain walnut board, 40 × 30 cm.", "kitchen", eur(79, 0)],
  ["dutch-oven", "AG-KIT-004", "Dutch Oven", "Enamelled cast iron, 5.2 litres.", "kitchen", eur(229, 0)],
  [
    "designing-data-intensive-applications",
    "AG-BOO-001",
    "Designing Data-Intensive Applications",
    "The book on reliable, scalable and maintainable data systems.",
    "books",
    eur(42, 0),
  ],
  [
    "building-microservices",
    "AG-BOO-002",
    "Building Microservices",
    "Designing fine-grained systems, second edition.",
    "books",
    eur(49, 90),
  ],
  ["release-it", "AG-BOO-003", "Release It!", "Design and deploy production-ready software.", "books", eur(39, 50)],
  [
    "site-reliability-engineering",
    "AG-BOO-004",
    "Site Reliability Engineering",
    "How Google runs production systems.",
    "books",
    eur(45, 0),
  ],
  [
    "trail-backpack",
    "AG-OUT-001",
    "Trail Backpack",
    "30 litre hiking backpack with rain cover.",
    "outdoor",
    eur(119, 0),
  ],
  ["camping-stove", "AG-OUT-002", "Camping Stove", "Compact gas stove with piezo ignition.", "outdoor", eur(54, 90)],
  ["headlamp", "AG-OUT-003", "Headlamp", "400 lumen rechargeable headlamp.", "outdoor", eur(34, 95)],
  ["linen-throw", "AG-HOM-001", "Linen Throw", "Stonewashed linen throw, 130 × 170 cm.", "home", eur(69, 0)],
  ["desk-lamp", "AG-HOM-002", "Desk Lamp", "Dimmable LED desk lamp with adjustable arm.", "home", eur(84, 50)],
  [
    "mechanical-keyboard",
    "AG-ELE-001",
    "Mechanical Keyboard",
    "Tenkeyless keyboard with hot-swappable switches.",
    "electronics",
    eur(129, 0),
  ],
  [
    "noise-cancelling-headphones",
    "AG-ELE-002",
    "Noise-Cancelling Headphones",
    "Over-ear wireless headphones, 30 h battery.",
    "electronics",
    eur(279, 0),
  ],
  [
    "usb-c-hub",
    "AG-ELE-003",
    "USB-C Hub",
    "7-in-1 hub: HDMI, Ethernet, SD and three USB ports.",
    "electronics",
    eur(49, 0),
  ],
].map(([productId, sku, name, description, category, price]) => ({
  productId: productId as string,
  sku: sku as string,
  name: name as string,
  description: description as string,
  category: category as string,
  price: price as NewProduct["price"],
  imageUrl: image(productId as string),
}));
