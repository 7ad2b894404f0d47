/**
 * Test-data endpoints of the test environment that matter to the emulator (dane-testowe-scenariusze.md):
 * POST /testdata/subject, /testdata/subject/remove, /testdata/person, /testdata/person/remove,
 * /testdata/attachment, /testdata/attachment/revoke. They register subjects (NIPs) and switch invoices with
 * attachments on or off; tokens are provisioned through the emulator's admin endpoint or options (see admin.ts).
 */
import type { EmulatorApi } from '../context.js';
import { badRequest } from '../http/errors.js';
import { ensureSubject } from '../store/tokens.js';

export function registerTestdata({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;
  const exists = (nip: string): boolean => !!db.prepare(`SELECT 1 FROM subjects WHERE nip = ?`).get(nip);

  router.add('POST', '/v2/testdata/subject', (req) => {
    const b = req.json as { subjectNip: string; subjectType: string; description: string; subunits?: { subjectNip: string; description: string }[] | null };
    if (exists(b.subjectNip)) throw badRequest(30001, 'Podmiot lub uprawnienie już istnieje.');
    ensureSubject(db, b.subjectNip, req.now, b.subjectType, b.description);
    for (const s of b.subunits ?? []) ensureSubject(db, s.subjectNip, req.now, 'Subunit', s.description);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/subject/remove', (req) => {
    const b = req.json as { subjectNip: string };
    db.prepare(`DELETE FROM subjects WHERE nip = ?`).run(b.subjectNip);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/person', (req) => {
    const b = req.json as { nip: string; description: string };
    if (exists(b.nip)) throw badRequest(30001, 'Podmiot lub uprawnienie już istnieje.');
    ensureSubject(db, b.nip, req.now, 'Person', b.description);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/person/remove', (req) => {
    const b = req.json as { nip: string };
    db.prepare(`DELETE FROM subjects WHERE nip = ?`).run(b.nip);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/attachment', (req) => {
    const b = req.json as { nip: string };
    ensureSubject(db, b.nip, req.now);
    db.prepare(`UPDATE subjects SET attachments_allowed = 1 WHERE nip = ?`).run(b.nip);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/attachment/revoke', (req) => {
    const b = req.json as { nip: string };
    db.prepare(`UPDATE subjects SET attachments_allowed = 0 WHERE nip = ?`).run(b.nip);
    return { status: 200 };
  });
}
