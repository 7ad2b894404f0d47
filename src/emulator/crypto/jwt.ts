/** HS256 JWTs for the authentication, access and refresh tokens the emulator hands out (JWT as the docs say). */
import crypto from 'node:crypto';

export type TokenType = 'AuthenticationToken' | 'ContextToken' | 'RefreshToken';

export interface TokenClaims {
  typ: TokenType;
  /** Reference number of the authentication operation. */
  arn: string;
  exp: number;
  iat: number;
  /** Unique id of this token. */
  jti: string;
  'context-identifier-type'?: string;
  'context-identifier-value'?: string;
  per?: string[];
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export class JwtSigner {
  constructor(private readonly secret: Buffer) {}

  sign(claims: Omit<TokenClaims, 'jti'>): { token: string; claims: TokenClaims } {
    const full: TokenClaims = { ...claims, jti: crypto.randomBytes(12).toString('hex') };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify({ ...full, iss: 'ksef-bridge-emulator', aud: 'ksef-bridge-emulator' }));
    const sig = crypto.createHmac('sha256', this.secret).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, claims: full };
  }

  /** Returns the claims of a well-signed token (expiry is checked by the caller), or null. */
  verify(token: string): TokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [head, body, sig] = parts as [string, string, string];
    const expected = crypto.createHmac('sha256', this.secret).update(`${head}.${body}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return null;
    }
  }
}
