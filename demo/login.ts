/**
 * Sessions in the demo: the site's demo pages sit behind a SessionWrapper
 * (demo/site.ts), which answers `POST /__login__` and `POST /__logout__`.
 *
 * - `/login` shows the login form (any name, the password `nevow`), or who
 *   is logged in and a logout button. It reads the session, so it is never
 *   cached.
 * - `/hello` greets the logged-in user and is cached for 30 s with
 *   `cacheVary = ['session']`: one stored render per session (and one for
 *   every visitor without a session), so no visitor is ever greeted with
 *   another's name. `/cached`, next to it, greets nobody and is one render
 *   for everyone.
 *
 * Both forms carry the session's token (`csrfInput`), and a cross-site POST
 * is refused with 403 by the wrapper.
 */
import { IRequest, ISession, Page, csrfInput, type BaseRequest, type Renderable, type WovenContext } from '../lib/index.js';
import { template } from './common.js';

/** The demo's fixed password, shown on the login page. */
export const DEMO_PASSWORD = 'nevow';

/** The demo's credentials check: any name of 1 to 40 characters, with the fixed password. */
export function demoChecker(username: string, password: string): string | null {
  const name = username.trim();
  return password === DEMO_PASSWORD && name.length > 0 && name.length <= 40 ? name : null;
}

export class LoginPage extends Page {
  override docFactory = template('demo-login.html');
  render_csrf = csrfInput;

  render_password(ctx: WovenContext): Renderable {
    return ctx.tag!.clear().add(DEMO_PASSWORD);
  }

  /** guard's `login-failure` query argument, shown when a login was refused. */
  render_failure(ctx: WovenContext): Renderable {
    const failure = (ctx.locate(IRequest) as BaseRequest).args['login-failure']?.[0];
    return failure === undefined ? '' : ctx.tag!.clear().add(failure);
  }

  /** The login form for a visitor, or who is logged in and the logout button. */
  render_account(ctx: WovenContext): Renderable {
    const user = ctx.locate(ISession).user;
    if (user === null) return ctx.tag!.allPatterns('anonymous');
    return ctx.tag!.onePattern('user').fillSlots('user', String(user));
  }
}

export class HelloPage extends Page {
  override docFactory = template('demo-hello.html');
  override cacheTimeout: number | null = 30;
  /** One render per session: the page greets by the session's user. */
  override cacheVary = ['session'];

  render_greeting(ctx: WovenContext): Renderable {
    const user = ctx.locate(ISession).user;
    return ctx.tag!.clear().add(user === null ? 'Hello, stranger' : `Hello, ${String(user)}!`);
  }

  render_renderedAt(ctx: WovenContext): Renderable {
    const now = new Date().toISOString();
    return ctx.tag!.clear().set({ datetime: now }).add(now);
  }
}

