/**
 * A form POST answered with a redirect (Post/Redirect/Get): `POST /form`
 * reads the field from `request.args` and answers 303 See Other to
 * `/form/result?message=…`, a plain GET page that shows it. Reloading the
 * result page does not post again.
 */
import { IRequest, Page, URL, csrfInput, type BaseRequest, type WovenContext } from '../lib/index.js';
import { template } from './common.js';

export class FormPage extends Page {
  override docFactory = template('demo-form.html');
  /** `/form/result`: a `child_*` field holding a resource. */
  child_result = new ResultPage();
  /** The session's form token as a hidden field: a forged cross-site POST gets 403 from the SessionWrapper. */
  render_csrf = csrfInput;

  override renderHTTP(ctx: WovenContext): unknown {
    const request = ctx.locate(IRequest) as BaseRequest;
    if (request.method !== 'POST') return super.renderHTTP(ctx);
    const message = request.args['message']?.[0] ?? '';
    // The URL of this page, whatever it is mounted as, with one more segment.
    const target = URL.fromContext(ctx).clear().child('result').add('message', message);
    request.redirect(target.toString(), 303);
    return '';
  }
}

export class ResultPage extends Page {
  override docFactory = template('demo-result.html');

  /** What was posted, carried in the query by the redirect. */
  data_message(ctx: WovenContext): string {
    const message = (ctx.locate(IRequest) as BaseRequest).args['message']?.[0] ?? '';
    return message === '' ? '(nothing)' : message;
  }
}
