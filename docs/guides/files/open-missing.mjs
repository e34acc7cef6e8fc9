// Opens a device node this platform does not have, and does not catch the error.
export default async function main(sys) {
  await sys.open('/dev/video99', 0);
  return 0;
}
