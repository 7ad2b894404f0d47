/** GET /v2/security/public-key-certificates: the emulator's certificates, one per usage. */
import type { EmulatorApi } from '../context.js';
import { iso } from '../context.js';

export function registerSecurity({ router, ctx }: EmulatorApi): void {
  router.add('GET', '/v2/security/public-key-certificates', () => ({
    status: 200,
    json: ctx.keys.all.map((k) => ({
      certificate: k.certificateDer.toString('base64'),
      certificateId: k.certificateId,
      publicKeyId: k.publicKeyId,
      validFrom: iso(k.validFrom.getTime()),
      validTo: iso(k.validTo.getTime()),
      usage: [k.usage],
    })),
  }));
}
