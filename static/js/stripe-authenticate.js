// Confirms an off-session payment the bank wants the cardholder to authenticate, with Stripe.js;
// then the portal reads the PaymentIntent back (data-return-url?payment_intent=pi_...).
(function () {
  "use strict";
  const list = document.querySelector(".authentication-requests");
  if (!list || typeof Stripe === "undefined") return;
  const stripe = Stripe(list.dataset.publishableKey);
  const errorBox = document.getElementById("stripe-error");

  list.querySelectorAll("button.confirm-payment").forEach(function (button) {
    button.addEventListener("click", async function () {
      errorBox.hidden = true;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      const clientSecret = button.dataset.clientSecret;
      // A payment declined off-session for authentication needs its method again; one waiting
      // for an action does not.
      const options = button.dataset.paymentMethod ? { payment_method: button.dataset.paymentMethod } : {};
      const result = await stripe.confirmCardPayment(clientSecret, options);
      const paymentIntentId = (result.paymentIntent && result.paymentIntent.id) || clientSecret.split("_secret_")[0];
      if (result.error && !result.paymentIntent) {
        errorBox.textContent = result.error.message || list.dataset.messageFailed;
        errorBox.hidden = false;
      }
      const url = new URL(list.dataset.returnUrl, window.location.href);
      url.searchParams.set("payment_intent", paymentIntentId);
      window.location.assign(url.toString());
    });
  });
})();
